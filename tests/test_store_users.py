"""Dovecot passwd-file, password schemes and the auth service's delays."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import pytest

from simlab.store.auth import AuthService
from simlab.store.pwcrypt import crypt_password
from simlab.store.users import PasswdFile, encode_password, verify_password

DATA = Path(__file__).parent / "data" / "dovecot"


def test_users_passwd_file_of_the_lab(tmp_path: Path) -> None:
    db = PasswdFile(DATA / "dovecot-users", default_scheme="PLAIN")
    assert db.users() == ["alice", "bob", "erin"]
    assert db.verify("erin", "erin-pw") and db.verify("ERIN", "erin-pw")
    assert not db.verify("erin", "wrong") and not db.verify("nosuchuser", "x")


def test_users_default_scheme_comments_and_reload(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("# accounts\n\nbob:secret:1001:1001::/home/bob::\n")
    assert PasswdFile(path, "PLAIN").verify("bob", "secret")
    assert not PasswdFile(path).verify("bob", "secret")       # Dovecot's default is CRYPT
    db = PasswdFile(path, "PLAIN")
    assert db.lookup("bob").home == "/home/bob"
    path.write_text("bob:{PLAIN}other-and-longer\n")
    assert db.verify("bob", "other-and-longer")


@pytest.mark.parametrize("scheme", ["PLAIN", "PLAIN-MD5", "LDAP-MD5", "SHA", "SHA256", "SSHA256",
                                    "SHA512", "SSHA512", "SMD5", "SHA512-CRYPT", "SHA256-CRYPT",
                                    "MD5-CRYPT"])
def test_users_every_scheme_verifies_its_own_encoding(scheme: str) -> None:
    stored = encode_password("erin-pw", scheme, salt=b"saltsalt")
    assert stored.startswith("{" + scheme + "}")
    assert verify_password("erin-pw", stored)
    assert not verify_password("erin-pX", stored)


def test_users_known_hashes_and_hex_detection() -> None:
    assert verify_password("erin-pw", "{PLAIN-MD5}" + hashlib.md5(b"erin-pw").hexdigest().upper())
    digest = hashlib.sha256(b"erin-pw").hexdigest()
    assert verify_password("erin-pw", "{SHA256}" + digest)            # hex accepted by length
    assert verify_password("erin-pw", "{SHA256.HEX}" + digest)
    assert verify_password("erin-pw", "{CRYPT}" + crypt_password("erin-pw", "$6$abc$"))
    assert not verify_password("x", "{BLF-CRYPT}$2y$05$whatever")


def test_users_sha_crypt_matches_the_system_crypt() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")
    for setting in ("$6$rounds=1000$saltstring$", "$5$saltstring$", "$1$saltstri$"):
        assert crypt_password("Hello world!", setting) == crypt.crypt("Hello world!", setting)


def test_auth_delays_follow_dovecots_failure_delay_and_anvil_penalty() -> None:
    now = [1000.0]
    auth = AuthService(PasswdFile(DATA / "dovecot-users", "PLAIN"), lambda: now[0])
    req = auth.request("127.0.0.1")
    assert req.delay == 0 and auth.verify(req, "erin", "wrong-password") is None
    now[0] += auth.failure_delay
    req = auth.request("127.0.0.1")
    assert req.delay == 4.0                       # penalty 1: 2 * 2^1 seconds
    now[0] += req.delay
    assert auth.verify(req, "nosuchuser", "whatever") is None
    now[0] += 2
    req = auth.request("127.0.0.1")
    assert req.delay == 8.0                       # penalty 2
    now[0] += req.delay
    assert auth.verify(req, "erin", "erin-pw") == "erin"     # success resets the penalty
    now[0] += 1
    req = auth.request("127.0.0.1")
    assert req.delay == 0 and auth.verify(req, "erin", "wrong-password") is None
    assert auth.request("127.0.0.1").delay == 0   # a pair already tried does not count again
    assert auth.request("10.0.0.1").delay == 0    # penalties are per client address


def test_auth_plain_authzid_must_be_the_user() -> None:
    auth = AuthService(PasswdFile(DATA / "dovecot-users", "PLAIN"), lambda: 0.0)
    assert auth.verify(auth.request("1.2.3.4"), "erin", "erin-pw", authzid="erin") == "erin"
    assert auth.verify(auth.request("1.2.3.4"), "erin", "erin-pw", authzid="bob") is None
