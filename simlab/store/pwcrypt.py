"""NAME
    pwcrypt - the crypt(3) password hashes Dovecot accepts: $1$, $5$, $6$

SUMMARY
    crypt_password("secret", "$6$saltsalt$")        # -> "$6$saltsalt$...."
    crypt_password("secret", stored) == stored      # verification

DESCRIPTION
    MD5-CRYPT ($1$, Poul-Henning Kamp's algorithm), SHA256-CRYPT ($5$) and
    SHA512-CRYPT ($6$, Ulrich Drepper's algorithm, with the optional
    "rounds=N$" parameter, 5000 rounds by default), written out in pure
    Python so that they also work where the crypt module is missing
    (Python 3.13, Pyodide). Traditional DES crypt is used only through
    the crypt module when Python still has it.

SEE ALSO
    crypt(3), doveadm-pw(1), https://www.akkadia.org/drepper/SHA-crypt.txt
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SHA512_ORDER = [
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
    (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54),
    (34, 55, 13), (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60),
    (40, 61, 19), (62, 20, 41),
]
_SHA256_ORDER = [
    (0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14), (15, 25, 5), (6, 16, 26),
    (27, 7, 17), (18, 28, 8), (9, 19, 29),
]
_MD5_ORDER = [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)]


def _b64(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_ITOA64[w & 0x3F])
        w >>= 6
    return "".join(out)


def _repeat(block: bytes, length: int) -> bytes:
    return (block * (length // len(block) + 1))[:length]


def _sha_crypt(password: bytes, setting: str, magic: str) -> str:
    new: Callable[..., Any] = hashlib.sha512 if magic == "6" else hashlib.sha256
    size = 64 if magic == "6" else 32
    spec = setting[3:]
    rounds, custom = 5000, False
    if spec.startswith("rounds="):
        value, _, spec = spec[7:].partition("$")
        rounds, custom = min(max(int(value), 1000), 999_999_999), True
    salt = spec.split("$", 1)[0][:16].encode()
    b = new(password + salt + password).digest()
    a = new(password + salt + _repeat(b, len(password)))
    n = len(password)
    while n:
        a.update(b if n & 1 else password)
        n >>= 1
    c = a.digest()
    p_seq = _repeat(new(password * len(password)).digest(), len(password))
    s_seq = _repeat(new(salt * (16 + c[0])).digest(), len(salt))
    for i in range(rounds):
        h = new(p_seq if i & 1 else c)
        if i % 3:
            h.update(s_seq)
        if i % 7:
            h.update(p_seq)
        h.update(c if i & 1 else p_seq)
        c = h.digest()
    if magic == "6":
        out = "".join(_b64(c[x], c[y], c[z], 4) for x, y, z in _SHA512_ORDER) + _b64(0, 0, c[63], 2)
    else:
        out = "".join(_b64(c[x], c[y], c[z], 4) for x, y, z in _SHA256_ORDER)
        out += _b64(0, c[31], c[30], 3)
    assert len(c) == size
    head = f"${magic}$" + (f"rounds={rounds}$" if custom else "")
    return head + salt.decode() + "$" + out


def _md5_crypt(password: bytes, setting: str) -> str:
    salt = setting[3:].split("$", 1)[0][:8].encode()
    alt = hashlib.md5(password + salt + password).digest()
    ctx = hashlib.md5(password + b"$1$" + salt + _repeat(alt, len(password)))
    n = len(password)
    while n:
        ctx.update(b"\0" if n & 1 else password[:1])
        n >>= 1
    final = ctx.digest()
    for i in range(1000):
        h = hashlib.md5(password if i & 1 else final)
        if i % 3:
            h.update(salt)
        if i % 7:
            h.update(password)
        h.update(final if i & 1 else password)
        final = h.digest()
    out = "".join(_b64(final[x], final[y], final[z], 4) for x, y, z in _MD5_ORDER)
    return "$1$" + salt.decode() + "$" + out + _b64(0, 0, final[11], 2)


def crypt_password(password: str, setting: str) -> str | None:
    """crypt(3) of PASSWORD with SETTING (a salt spec or a full hash); None if unsupported."""
    raw = password.encode("utf-8")
    if setting.startswith(("$6$", "$5$")):
        return _sha_crypt(raw, setting, setting[1])
    if setting.startswith("$1$"):
        return _md5_crypt(raw, setting)
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt as _crypt  # removed in Python 3.13
    except ImportError:
        return None
    result: str | None = _crypt.crypt(password, setting)
    return result
