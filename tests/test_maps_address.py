"""Postfix's search order for address keys (simlab.postfix.maps.address)."""

from __future__ import annotations

import pytest

from simlab.postfix.maps import Map, open_map
from simlab.postfix.maps.address import lookup_address, split_addr, strip_addr


class Recorder(Map):
    """A fixed-string table that records every key it is asked for."""

    type = "rec"

    def __init__(self, fixed: bool = True) -> None:
        super().__init__("rec")
        self.fixed = fixed
        self.keys: list[str] = []

    def lookup(self, key: str) -> str | None:
        self.keys.append(key)
        return None


def is_local(domain: str) -> bool:
    return domain.lower() in ("example.com", "localhost")


def test_virtual_order_with_extension_in_local_domain() -> None:
    rec, pat = Recorder(), Recorder(fixed=False)
    assert lookup_address([rec, pat], "user+ext@example.com", local_domain=is_local) is None
    assert rec.keys == ["user+ext@example.com", "user@example.com", "user+ext", "user", "@example.com"]
    assert pat.keys == ["user+ext@example.com"]  # pattern tables see the full address only


def test_virtual_order_remote_domain_and_no_extension() -> None:
    rec = Recorder()
    lookup_address([rec], "user@alias.example", local_domain=is_local)
    assert rec.keys == ["user@alias.example", "@alias.example"]


def test_virtual_catchall_and_first_table_wins() -> None:
    a = open_map("inline:{@catchall.example=bob, info@alias.example=alice}")
    b = open_map("inline:{info@alias.example=other}")
    assert lookup_address([a, b], "x@catchall.example") == ("bob", "@catchall.example")
    assert lookup_address([b, a], "info+tag@alias.example") == ("other", "info@alias.example")


def test_access_order_parent_domains() -> None:
    rec = Recorder()
    lookup_address([rec], "u+e@mail.sub.example.com", kind="access")
    assert rec.keys == ["u+e@mail.sub.example.com", "u@mail.sub.example.com", "mail.sub.example.com",
                        "sub.example.com", "example.com", "com", "u+e@", "u@"]
    rec = Recorder()
    lookup_address([rec], "u@a.b", kind="access", parent_matches_subdomains=False)
    assert rec.keys == ["u@a.b", "a.b", ".b", "u@"]


def test_transport_order_and_item_24() -> None:
    rec = Recorder()
    lookup_address([rec], "robot+ext@mail.example.com", kind="transport")
    assert rec.keys == ["robot+ext@mail.example.com", "robot@mail.example.com", "mail.example.com",
                        ".example.com", ".com", "*"]
    lab = open_map("inline:{robot@example.com=labpipe:, relay.example=smtp:[127.0.0.1]:2526}")
    assert lookup_address([lab], "robot+ext@example.com", kind="transport") == ("labpipe:", "robot@example.com")
    assert lookup_address([lab], "x@relay.example", kind="transport")[0] == "smtp:[127.0.0.1]:2526"
    assert lookup_address([lab], "x@sub.relay.example", kind="transport") is None


@pytest.mark.parametrize("local, delims, expect", [
    ("user+foo", "+", ("user", "+foo")),
    ("user-foo", "+-", ("user", "-foo")),
    ("owner-list", "-", None),
    ("list-request", "-", None),
    ("Postmaster", "+", None),
    ("+foo", "+", None),
    ("user", "+", None),
])
def test_split_addr(local: str, delims: str, expect: tuple[str, str] | None) -> None:
    assert split_addr(local, delims) == expect


def test_strip_addr() -> None:
    assert strip_addr("a+b@c+d.example", "+") == ("a@c+d.example", "+b")
    assert strip_addr("a@b", "+") is None
