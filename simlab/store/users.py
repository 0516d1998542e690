"""NAME
    users - Dovecot's passwd-file password database

SUMMARY
    db = PasswdFile(root / "etc/dovecot/users", default_scheme="PLAIN")
    db.lookup("erin")            # PasswdEntry(user="erin", password="{PLAIN}erin-pw", ...)
    db.verify("erin", "erin-pw") # True
    verify_password("secret", "{SSHA256}...")
    encode_password("secret", "SHA512-CRYPT", salt=b"...")

DESCRIPTION
    One account per line, passwd(5)-shaped and colon separated:
    user:password:uid:gid:gecos:home:shell:extra_fields; only the first two
    fields are needed ("erin:{PLAIN}erin-pw"). Empty lines and lines
    starting with # are ignored. The file is read again whenever it changes.

    A password is "{SCHEME}data"; without a {SCHEME} prefix the passdb's
    default scheme applies (Dovecot's default is CRYPT; the lab's
    passdb says scheme=PLAIN). Schemes: PLAIN, CLEAR, CLEARTEXT;
    PLAIN-MD5 and LDAP-MD5 (MD5 of the password, hex / base64); SHA (SHA1),
    SHA256, SHA512 and their salted forms SSHA, SSHA256, SSHA512, SMD5
    (base64 of digest + salt); MD5-CRYPT (also spelled MD5), SHA256-CRYPT,
    SHA512-CRYPT, and CRYPT for any crypt(3) hash ($1$, $5$, $6$; DES only
    where Python still has the crypt module). A ".HEX" or ".B64" suffix
    on the scheme names the encoding; a value as long as the hex digest is
    read as hex, as Dovecot does.

    User names are looked up lower-cased (auth_username_format = %Lu).

PARAMETERS
    passdb { driver = passwd-file, args = scheme=... }, auth_username_format

SEE ALSO
    Dovecot AuthDatabase/PasswdFile, Authentication/PasswordSchemes, doveadm-pw(1)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from .pwcrypt import crypt_password

_DIGESTS = {
    "PLAIN-MD5": ("md5", False, "HEX"), "LDAP-MD5": ("md5", False, "B64"),
    "SHA": ("sha1", False, "B64"), "SHA1": ("sha1", False, "B64"),
    "SHA256": ("sha256", False, "B64"), "SHA512": ("sha512", False, "B64"),
    "SMD5": ("md5", True, "B64"), "SSHA": ("sha1", True, "B64"),
    "SSHA256": ("sha256", True, "B64"), "SSHA512": ("sha512", True, "B64"),
}
_CRYPT_SCHEMES = {"CRYPT": "", "MD5-CRYPT": "$1$", "MD5": "$1$",
                  "SHA256-CRYPT": "$5$", "SHA512-CRYPT": "$6$"}
_PLAIN = {"PLAIN", "CLEAR", "CLEARTEXT"}


@dataclass(frozen=True)
class PasswdEntry:
    user: str
    password: str
    uid: str = ""
    gid: str = ""
    gecos: str = ""
    home: str = ""
    shell: str = ""
    extra: str = ""


def split_scheme(stored: str, default_scheme: str) -> tuple[str, str]:
    if stored.startswith("{") and "}" in stored:
        scheme, _, data = stored[1:].partition("}")
        return scheme.upper(), data
    return default_scheme.upper(), stored


def _decode(data: str, size: int, encoding: str) -> bytes | None:
    try:
        if encoding == "HEX" or (len(data) == 2 * size and all(
                c in "0123456789abcdefABCDEF" for c in data)):
            return bytes.fromhex(data)
        return base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        return None


def verify_password(plain: str, stored: str, default_scheme: str = "CRYPT") -> bool:
    """Does PLAIN match the stored password (with or without a {SCHEME} prefix)?"""
    scheme, data = split_scheme(stored, default_scheme)
    scheme, _, encoding = scheme.partition(".")
    encoding = {"BASE64": "B64"}.get(encoding, encoding)
    raw = plain.encode("utf-8")
    if scheme in _PLAIN:
        return hmac.compare_digest(raw, data.encode("utf-8"))
    if scheme in _DIGESTS:
        name, salted, default_encoding = _DIGESTS[scheme]
        size = hashlib.new(name).digest_size
        decoded = _decode(data, size if not salted else 10**6, encoding or default_encoding)
        if decoded is None or len(decoded) < size:
            return False
        digest, salt = decoded[:size], decoded[size:]
        if not salted and salt:
            return False
        return hmac.compare_digest(hashlib.new(name, raw + salt).digest(), digest)
    if scheme in _CRYPT_SCHEMES:
        prefix = _CRYPT_SCHEMES[scheme]
        if prefix and not data.startswith(prefix):
            return False
        result = crypt_password(plain, data)
        return result is not None and hmac.compare_digest(result.encode(), data.encode())
    return False


def encode_password(plain: str, scheme: str, salt: bytes = b"") -> str:
    """Like ``doveadm pw -s SCHEME``; SALT must be given for salted schemes."""
    scheme = scheme.upper()
    raw = plain.encode("utf-8")
    if scheme in _PLAIN:
        return "{" + scheme + "}" + plain
    if scheme in _DIGESTS:
        name, salted, encoding = _DIGESTS[scheme]
        digest = hashlib.new(name, raw + (salt if salted else b"")).digest()
        blob = digest + (salt if salted else b"")
        text = blob.hex() if encoding == "HEX" else base64.b64encode(blob).decode()
        return "{" + scheme + "}" + text
    if scheme in _CRYPT_SCHEMES and _CRYPT_SCHEMES[scheme]:
        result = crypt_password(plain, _CRYPT_SCHEMES[scheme] + salt.decode("ascii") + "$")
        return "{" + scheme + "}" + str(result)
    raise ValueError(f"unknown or unsupported password scheme: {scheme}")


class PasswdFile:
    """A passwd-file passdb (see the module documentation)."""

    def __init__(self, path: str | Path, default_scheme: str = "CRYPT") -> None:
        self.path = Path(path)
        self.default_scheme = default_scheme
        self._stamp: tuple[float, int] | None = None
        self._entries: dict[str, PasswdEntry] = {}

    def _load(self) -> dict[str, PasswdEntry]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._entries = None, {}
            return self._entries
        stamp = (st.st_mtime, st.st_size)
        if stamp != self._stamp:
            entries: dict[str, PasswdEntry] = {}
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                fields = line.split(":", 7)
                fields += [""] * (8 - len(fields))
                entries.setdefault(fields[0].lower(), PasswdEntry(*fields))
            self._stamp, self._entries = stamp, entries
        return self._entries

    def users(self) -> list[str]:
        return list(self._load())

    def lookup(self, user: str) -> PasswdEntry | None:
        return self._load().get(user.lower())

    def verify(self, user: str, password: str) -> bool:
        entry = self.lookup(user)
        return entry is not None and verify_password(password, entry.password, self.default_scheme)
