"""Checking a downloaded .apk against the index the way apk does for repository packages
(APK_SIGN_VERIFY_IDENTITY in apk-tools extract_v2.c): the package is trusted through the *index*, so its
own signature is skipped; the control member must hash to the index `C:` (sha1, "Q1" + base64) and the
data member to `.PKGINFO datahash` (sha256). The stand-in also checks the size against `S:` and each
file against its `APK-TOOLS.checksum.SHA1` pax header, and does it all before writing anything.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from .archive import Entry, FormatError, gzip_members, member_at, tar_entries
from .repos import Package

INTEGRITY = "v2 package integrity error"  # apk's text for APKE_V2PKG_INTEGRITY


class PackageError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.detail = detail


@dataclass
class Verified:
    pkg: Package
    pkginfo: dict[str, list[str]]
    entries: list[Entry]


def q1(data: bytes) -> str:
    return "Q1" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def parse_pkginfo(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or " = " not in line:
            continue
        k, _, v = line.partition(" = ")
        out.setdefault(k, []).append(v)
    return out


def verify(pkg: Package, raw: bytes) -> Verified:
    if pkg.size and len(raw) != pkg.size:
        raise PackageError(INTEGRITY, f"size mismatch: downloaded {len(raw)} bytes, the index says S:{pkg.size}")
    # Hashes before anything else: a changed byte must show as a checksum mismatch, as in apk, not as
    # whatever gzip or tar error it would cause further on.
    try:
        first = member_at(raw, 0)
        signed = first.data[:100].split(b"\0")[0].startswith(b".SIGN.")
        control = member_at(raw, len(first.raw)) if signed else first
    except (FormatError, ValueError, IndexError) as e:
        raise PackageError(INTEGRITY, f"control member: {e}") from None
    data_start = (len(first.raw) if signed else 0) + len(control.raw)
    data_raw = raw[data_start:]  # the last member: its extent needs no decompression
    if not pkg.checksum.startswith("Q1"):
        raise PackageError(INTEGRITY, f"unsupported index checksum '{pkg.checksum}' (only Q1/sha1 is v2)")
    # With a datahash (every current package) the identity is the control member alone; without one, apk's
    # identity covers control and data together.
    if q1(control.raw) != pkg.checksum and q1(control.raw + data_raw) != pkg.checksum:
        raise PackageError(INTEGRITY, f"checksum mismatch: control member is {q1(control.raw)}, the index says C:{pkg.checksum}")
    if not control.crc_ok:
        raise PackageError(INTEGRITY, "control member: gzip CRC mismatch")
    try:
        control_entries = tar_entries(control.data)
    except FormatError as e:
        raise PackageError("v2 package format error", str(e)) from None
    info = next((e for e in control_entries if e.name == ".PKGINFO"), None)
    if info is None:
        raise PackageError("v2 package format error", "no .PKGINFO in the control member")
    pkginfo = parse_pkginfo(info.data.decode("utf-8", "replace"))
    datahash = (pkginfo.get("datahash") or [""])[0]
    if not datahash and q1(control.raw) == pkg.checksum:
        raise PackageError(INTEGRITY, "no datahash in .PKGINFO, so C: must cover control and data")
    if datahash and hashlib.sha256(data_raw).hexdigest() != datahash.lower():
        raise PackageError(INTEGRITY, "checksum mismatch: data member does not match .PKGINFO datahash")
    try:
        data_members = gzip_members(data_raw)  # strict: CRCs must hold now
    except FormatError as e:
        raise PackageError(INTEGRITY, f"data: {e}") from None
    if len(data_members) != 1:
        raise PackageError("v2 package format error", f"expected one data gzip member, found {len(data_members)}")
    data = data_members[0]
    if pkginfo.get("pkgname", [""])[0] != pkg.name or pkginfo.get("pkgver", [""])[0] != pkg.version:
        raise PackageError(INTEGRITY, ".PKGINFO names a different package than the index")
    try:
        entries = tar_entries(data.data)
    except FormatError as e:
        raise PackageError("v2 package format error", str(e)) from None
    for e in entries:
        want = e.pax.get("APK-TOOLS.checksum.SHA1")
        if e.kind == "file" and want and hashlib.sha1(e.data).hexdigest() != want.lower():
            raise PackageError(INTEGRITY, f"checksum mismatch: {e.name} does not match its APK-TOOLS.checksum.SHA1")
    return Verified(pkg, pkginfo, entries)
