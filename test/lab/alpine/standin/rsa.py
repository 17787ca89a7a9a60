"""RSA PKCS#1 v1.5 signature verification with the standard library only (Debian's python3 has no crypto
module, and the stand-in must run from the machine's /usr/bin/python3 inside every lab host)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

# DER DigestInfo prefixes (RFC 8017 §9.2 note 1) for the hashes apk v2 signature names use.
DIGEST_INFO = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
RSA_OID = bytes.fromhex("2a864886f70d010101")


def _der(data: bytes, i: int) -> tuple[int, bytes, int]:
    """(tag, content, index after) of the DER element at data[i]."""
    tag = data[i]
    length = data[i + 1]
    i += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[i:i + n], "big")
        i += n
    return tag, data[i:i + length], i + length


def _rsa_key(seq: bytes) -> tuple[int, int]:
    tag, n, i = _der(seq, 0)
    tag2, e, _ = _der(seq, i)
    if tag != 0x02 or tag2 != 0x02:
        raise ValueError("not an RSA public key")
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


def load_public_key(pem: str) -> tuple[int, int]:
    """(n, e) from a PEM "PUBLIC KEY" (SubjectPublicKeyInfo, Alpine's format) or "RSA PUBLIC KEY" (PKCS#1)."""
    m = re.search(r"-----BEGIN (RSA )?PUBLIC KEY-----(.+?)-----END", pem, re.S)
    if not m:
        raise ValueError("no PEM public key")
    der = base64.b64decode("".join(m.group(2).split()))
    tag, body, _ = _der(der, 0)
    if tag != 0x30:
        raise ValueError("bad DER")
    if m.group(1):
        return _rsa_key(body)
    _, algo, i = _der(body, 0)
    _, oid, _ = _der(algo, 0)
    if oid != RSA_OID:
        raise ValueError("not an RSA key")
    tag, bits, _ = _der(body, i)
    if tag != 0x03:
        raise ValueError("bad SubjectPublicKeyInfo")
    _, seq, _ = _der(bits[1:], 0)  # skip the unused-bits byte
    return _rsa_key(seq)


def verify(key: tuple[int, int], algo: str, message: bytes, signature: bytes) -> bool:
    n, e = key
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    m = pow(int.from_bytes(signature, "big"), e, n).to_bytes(k, "big")
    t = DIGEST_INFO[algo] + hashlib.new(algo, message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(m, expected)
