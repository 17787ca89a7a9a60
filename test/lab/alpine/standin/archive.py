"""apk v2 containers: a file is a series of gzip members whose decompressed tar blocks form one archive.
apk hashes and signs the *compressed* members, so they are kept apart here."""
from __future__ import annotations

import io
import tarfile
import zlib
from dataclasses import dataclass, field

# apk v2 signature file names and the digest each implies (apk-tools extract_v2.c).
SIGNATURE_ALGOS = (("RSA512", "sha512"), ("RSA256", "sha256"), ("RSA", "sha1"))


class FormatError(Exception):
    pass


@dataclass
class Member:
    raw: bytes  # the gzip member as stored
    data: bytes  # its decompressed tar blocks
    crc_ok: bool = True  # CRC32 and length in the trailer match the data


@dataclass
class Entry:
    name: str  # as in the archive, without a leading "./" or "/" (tar writers differ)
    kind: str  # 'file' | 'dir' | 'symlink' | 'other'
    mode: int
    data: bytes = b""
    linkname: str = ""
    pax: dict[str, str] = field(default_factory=dict)


def member_at(buf: bytes, pos: int) -> Member:
    """One gzip member starting at buf[pos]. The header is parsed by hand and the deflate stream inflated
    raw, so the member's extent is known even when its CRC is wrong: a tampered member must still be
    hashed and compared with the index rather than rejected with a vaguer gzip error."""
    if buf[pos:pos + 3] != b"\x1f\x8b\x08":
        raise FormatError("not a gzip member")
    flags = buf[pos + 3]
    i = pos + 10
    if flags & 4:  # FEXTRA
        i += 2 + int.from_bytes(buf[i:i + 2], "little")
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & bit:
            i = buf.index(b"\0", i) + 1
    if flags & 2:  # FHCRC
        i += 2
    d = zlib.decompressobj(wbits=-15)
    try:
        data = d.decompress(buf[i:])
    except zlib.error as e:
        raise FormatError(f"corrupt deflate stream: {e}") from None
    if not d.eof or len(d.unused_data) < 8:
        raise FormatError("truncated gzip member")
    end = len(buf) - len(d.unused_data) + 8
    crc, size = int.from_bytes(buf[end - 8:end - 4], "little"), int.from_bytes(buf[end - 4:end], "little")
    crc_ok = crc == zlib.crc32(data) and size == len(data) & 0xFFFFFFFF
    return Member(raw=buf[pos:end], data=data, crc_ok=crc_ok)


def gzip_members(buf: bytes, strict: bool = True) -> list[Member]:
    """All gzip members; strict refuses a member whose CRC does not match."""
    members: list[Member] = []
    pos = 0
    while pos < len(buf):
        try:
            m = member_at(buf, pos)
        except (FormatError, ValueError, IndexError) as e:
            raise FormatError(f"gzip member {len(members) + 1}: {e}") from None
        if strict and not m.crc_ok:
            raise FormatError(f"gzip member {len(members) + 1}: CRC mismatch")
        members.append(m)
        pos += len(m.raw)
    return members


def tar_entries(data: bytes) -> list[Entry]:
    """Entries of a tarball or tar segment (a segment simply ends without the two zero blocks)."""
    out: list[Entry] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
            for ti in tf:
                kind = "file" if ti.isfile() else "dir" if ti.isdir() else "symlink" if ti.issym() else "other"
                content = b""
                if ti.isfile():
                    f = tf.extractfile(ti)
                    content = f.read() if f else b""
                name = ti.name[2:] if ti.name.startswith("./") else ti.name
                out.append(Entry(name.strip("/"), kind, ti.mode, content, ti.linkname, dict(ti.pax_headers)))
    except tarfile.TarError as e:
        raise FormatError(f"tar: {e}") from None
    return out


def signature_of(entries: list[Entry]) -> tuple[str, str, bytes] | None:
    """(digest, key name, signature) of the first `.SIGN.<ALG>.<keyname>` entry, if any."""
    for e in entries:
        if not e.name.startswith(".SIGN."):
            continue
        rest = e.name[len(".SIGN."):]
        for alg, digest in SIGNATURE_ALGOS:
            if rest.startswith(alg + "."):
                return digest, rest[len(alg) + 1:], e.data
    return None
