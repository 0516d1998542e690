"""trivial-rewrite: address classes, transport_maps, relayhost, rewriting, the reference's address forms."""

from __future__ import annotations

import re

import pytest

from _delivery_lab import lab, scenario
from simlab.postfix.maps.tok822 import quote_822_local, unquote_822_local
from simlab.postfix.trivial_rewrite import resolve, rewrite


@pytest.fixture
def ctx(tmp_path):
    return lab(tmp_path)


def test_resolve_local_class_all_reference_forms(ctx):
    for addr in ["alice+tag@example.com", "ALICE@EXAMPLE.COM", "alice@localhost",
                 "alice@mail.example.com", "alice@[127.0.0.1]", "alice@example.com."]:
        r = resolve(ctx, addr)
        assert (r.cls, r.transport, r.nexthop) == ("local", "local", "mail.example.com"), addr
        assert r.final and not r.flags
    assert resolve(ctx, "alice@example.com.").address == "alice@example.com"
    assert resolve(ctx, "ALICE@EXAMPLE.COM").address == "ALICE@EXAMPLE.COM"
    assert "mydestination contains example.com" in resolve(ctx, "alice@example.com").why


def test_resolve_unqualified_gets_myhostname(ctx):
    r = resolve(ctx, "Postmaster")
    assert (r.address, r.cls) == ("Postmaster@mail.example.com", "local")
    assert resolve(ctx, "").address == "MAILER-DAEMON@mail.example.com"


def test_resolve_address_literal_only_for_own_interfaces(ctx):
    assert resolve(ctx, "alice@[127.0.0.1]").cls == "local"
    assert "address of this host" in resolve(ctx, "alice@[127.0.0.1]").why
    r = resolve(ctx, "alice@[192.0.2.99]")
    assert r.cls == "default" and r.transport == "error"


def test_resolve_virtual_alias_class_is_error_user_unknown(ctx):
    r = resolve(ctx, "nosuch@alias.example")
    assert (r.cls, r.transport, r.nexthop) == ("virtual_alias", "error",
                                               "5.1.1 User unknown in virtual alias table")
    assert r.final
    ctx.config = ctx.config.clone(show_user_unknown_table_name="no")
    assert resolve(ctx, "x@catchall.example").nexthop == "5.1.1 User unknown"


def test_resolve_virtual_mailbox_class(ctx):
    r = resolve(ctx, "carol@vmail.example")
    assert (r.cls, r.transport, r.nexthop) == ("virtual_mailbox", "virtual", "vmail.example")
    assert "virtual_mailbox_domains contains vmail.example" in r.why


def test_resolve_relay_class_with_transport_maps(ctx):
    r = resolve(ctx, "x@relay.example")
    assert (r.cls, r.transport, r.nexthop) == ("relay", "smtp", "[127.0.0.1]:2526")
    assert "transport_maps: relay.example -> smtp:[127.0.0.1]:2526" in r.why
    r = resolve(ctx, "y@lmtp.example")
    assert (r.transport, r.nexthop) == ("lmtp", "inet:[127.0.0.1]:2524")
    r = resolve(ctx, "z@discard.example")
    assert (r.transport, r.nexthop) == ("discard", "lab discard")
    assert not r.final


def test_resolve_default_class_error_transport_text(ctx):
    r = resolve(ctx, "user@other.example")
    assert (r.cls, r.transport, r.nexthop) == ("default", "error", "no outbound in this lab")
    # bounce.example is in transport_maps but in no class list: default class, smtp transport
    r = resolve(ctx, "user@bounce.example")
    assert (r.cls, r.transport, r.nexthop) == ("default", "smtp", "[127.0.0.1]:2528")


def test_transport_maps_ignores_extension(ctx):
    for addr in ["robot@example.com", "robot+ext@example.com", "ROBOT+X@example.com"]:
        r = resolve(ctx, addr)
        assert (r.cls, r.transport, r.nexthop) == ("local", "labpipe", "example.com"), addr
    assert resolve(ctx, "robots@example.com").transport == "local"


def test_transport_maps_entry_forms(ctx, tmp_path):
    root = ctx.root
    (root / "etc/postfix/transport2").write_text(
        "errs.example error:\n"
        "colon.example :\n"
        "hop.example :[10.1.1.1]\n"
        ".sub.example smtp:[10.2.2.2]:587\n"
        "* relay:[10.3.3.3]\n")
    from _delivery_lab import postmap
    postmap(root, "hash:/etc/postfix/transport2")
    ctx.config = ctx.config.clone(transport_maps="hash:/etc/postfix/transport2",
                                  relay_domains="errs.example colon.example hop.example")
    assert (resolve(ctx, "a@errs.example").transport, resolve(ctx, "a@errs.example").nexthop) == \
        ("error", "Address is undeliverable")
    r = resolve(ctx, "a@colon.example")
    assert (r.transport, r.nexthop) == ("relay", "colon.example")
    r = resolve(ctx, "a@hop.example")
    assert (r.transport, r.nexthop) == ("relay", "[10.1.1.1]")
    r = resolve(ctx, "a@x.sub.example")
    assert (r.transport, r.nexthop) == ("smtp", "[10.2.2.2]:587")
    r = resolve(ctx, "a@sub.example")           # ".sub.example" does not match the parent itself
    assert (r.transport, r.nexthop) == ("relay", "[10.3.3.3]")
    assert resolve(ctx, "alice@example.com").transport == "relay"   # "*" matches everything


def test_relayhost_overrides_nexthop_for_relay_and_default(ctx):
    ctx.config = ctx.config.clone(relayhost="[10.0.0.1]:2525", default_transport="smtp",
                                  transport_maps="")
    assert (resolve(ctx, "u@other.example").transport, resolve(ctx, "u@other.example").nexthop) == \
        ("smtp", "[10.0.0.1]:2525")
    r = resolve(ctx, "x@relay.example")
    assert (r.transport, r.nexthop) == ("relay", "[10.0.0.1]:2525")
    assert "relayhost = [10.0.0.1]:2525" in r.why
    assert resolve(ctx, "alice@example.com").nexthop == "mail.example.com"
    assert resolve(ctx, "carol@vmail.example").nexthop == "vmail.example"


def test_transport_parameter_with_nexthop(ctx):
    ctx.config = ctx.config.clone(default_transport="smtp:[10.9.9.9]:26", transport_maps="",
                                  relayhost="[10.0.0.1]")
    r = resolve(ctx, "u@other.example")
    assert (r.transport, r.nexthop) == ("smtp", "[10.9.9.9]:26")


def test_null_transport_is_a_resolver_failure(ctx):
    ctx.config = ctx.config.clone(default_transport="", transport_maps="")
    r = resolve(ctx, "u@other.example")
    assert "fail" in r.flags and r.transport == "retry"
    assert any("parameter default_transport: null transport is not allowed" in line
               for line in ctx.log.lines)


def test_unreadable_transport_table_fails_softly(ctx):
    ctx.config = ctx.config.clone(transport_maps="hash:/etc/postfix/missing")
    r = resolve(ctx, "x@relay.example")
    assert "fail" in r.flags and r.nexthop.startswith("4.3.0")
    assert any("transport_maps lookup failure" in line for line in ctx.log.lines)


def test_sender_dependent_maps(ctx):
    root = ctx.root
    (root / "etc/postfix/sdrh").write_text("@example.com [10.7.7.7]\n<> [10.8.8.8]\n")
    (root / "etc/postfix/sddt").write_text("bob@example.com smtp\n<> relay\n")
    from _delivery_lab import postmap
    postmap(root, "hash:/etc/postfix/sdrh")
    postmap(root, "hash:/etc/postfix/sddt")
    ctx.config = ctx.config.clone(sender_dependent_relayhost_maps="hash:/etc/postfix/sdrh",
                                  sender_dependent_default_transport_maps="hash:/etc/postfix/sddt",
                                  transport_maps="")
    r = resolve(ctx, "u@other.example", sender="bob@example.com")
    assert (r.transport, r.nexthop) == ("smtp", "[10.7.7.7]")
    r = resolve(ctx, "u@other.example", sender="")
    assert (r.transport, r.nexthop) == ("relay", "[10.8.8.8]")
    r = resolve(ctx, "u@other.example", sender="x@else.example")
    assert (r.transport, r.nexthop) == ("error", "no outbound in this lab")


OPEN_RELAY = ["32_openrelay_percent_hack", "34_openrelay_quoted_at", "35_openrelay_source_route",
              "37_openrelay_quoted_percent", "38_openrelay_percent_literal", "40_openrelay_quoted_bang",
              "41_openrelay_percent_localhost"]


@pytest.mark.parametrize("name", OPEN_RELAY)
def test_open_relay_forms_resolve_off_host(ctx, name):
    data = scenario(name)
    rcpt = next(t["data"] for t in data["transcript"] if "data" in t and "RCPT TO" in t["data"])
    quoted = re.search(r"<(.*)>", rcpt).group(1)
    r = resolve(ctx, unquote_822_local(quoted))
    assert r.address in ("user@other.example", "@example.com:user@other.example")
    assert not r.final, name
    # after cleanup's rewrite (source route stripped), the same address
    r2 = resolve(ctx, rewrite(ctx, unquote_822_local(quoted)))
    assert r2.address == "user@other.example" and r2.cls == "default"


def test_source_route_is_routed(ctx):
    r = resolve(ctx, "@example.com:user@other.example")
    assert "routed" in r.flags


def test_routing_in_local_part_of_remote_domain_is_routed(ctx):
    r = resolve(ctx, "user%third.example@other.example")
    assert r.address == "user%third.example@other.example" and "routed" in r.flags
    ctx.config = ctx.config.clone(allow_percent_hack="no")
    r = resolve(ctx, "user%other.example@example.com")
    assert r.cls == "local" and "routed" in r.flags


def test_bad_domain_syntax(ctx):
    for addr in ["user@", "user@127.0.0.1", "user@-bad.example", "user@a..b", "u@[300.1.1.1]"]:
        r = resolve(ctx, addr)
        assert "error" in r.flags and r.nexthop == "5.1.3 bad address syntax", addr
    ctx.config = ctx.config.clone(resolve_numeric_domain="yes")
    r = resolve(ctx, "alice@127.0.0.1")
    assert (r.address, r.cls) == ("alice@[127.0.0.1]", "local")


def test_both_lists_warning(ctx):
    ctx.config = ctx.config.clone(mydestination="$myhostname, localhost, $mydomain, vmail.example")
    r = resolve(ctx, "carol@vmail.example")
    assert r.cls == "local"
    assert ctx.log.lines[-1].endswith(
        "postfix/trivial-rewrite[%d]: warning: do not list domain vmail.example in BOTH "
        "mydestination and virtual_mailbox_domains" % int(re.search(r"\[(\d+)\]", ctx.log.lines[-1]).group(1)))
    ctx.config = ctx.config.clone(mydestination="$myhostname", relay_domains="alias.example")
    resolve(ctx, "a@alias.example")
    assert "do not list domain alias.example in BOTH virtual_alias_domains and relay_domains" in ctx.log.lines[-1]
    ctx.config = ctx.config.clone(helpful_warnings="no")
    n = len(ctx.log.lines)
    resolve(ctx, "a@alias.example")
    assert len(ctx.log.lines) == n


def test_domain_list_patterns(ctx):
    (ctx.root / "etc/postfix/doms").write_text("listed.example OK\n")
    from _delivery_lab import postmap
    postmap(ctx.root, "hash:/etc/postfix/doms")
    ctx.config = ctx.config.clone(
        mydestination="$myhostname, .parent.example, !no.vmail.example, hash:/etc/postfix/doms",
        virtual_mailbox_domains="vmail.example, .vmail.example")
    assert resolve(ctx, "a@x.parent.example").cls == "local"
    assert resolve(ctx, "a@parent.example").cls == "default"
    assert resolve(ctx, "a@listed.example").cls == "local"
    assert resolve(ctx, "a@no.vmail.example").cls == "virtual_mailbox"
    # relay_domains is in parent_domain_matches_subdomains: "relay.example" covers subdomains
    assert resolve(ctx, "a@sub.relay.example").cls == "relay"


def test_rewrite_local_and_remote_context(ctx):
    assert rewrite(ctx, "alice") == "alice@example.com"
    assert rewrite(ctx, "alice", "remote") == "alice"
    assert rewrite(ctx, "other.example!user") == "user@other.example"
    assert rewrite(ctx, "a!b!user") == "b!user@a"
    assert rewrite(ctx, "user%a%b") == "user%a@b"
    assert rewrite(ctx, "@hop.example:user@dest.example") == "user@dest.example"
    assert rewrite(ctx, "@a,@b:user@dest.example") == "user@dest.example"
    assert rewrite(ctx, "alice@example.com.") == "alice@example.com"
    assert rewrite(ctx, "alice@example..") == "alice@example.."
    assert rewrite(ctx, "") == ""
    assert rewrite(ctx, "@") == "@"
    assert rewrite(ctx, "first last") == "first last@example.com"
    assert rewrite(ctx, "alice@mail") == "alice@mail"
    ctx.config = ctx.config.clone(append_dot_mydomain="yes")
    assert rewrite(ctx, "alice@mail") == "alice@mail.example.com"
    assert rewrite(ctx, "alice@[127.0.0.1]") == "alice@[127.0.0.1]"
    ctx.config = ctx.config.clone(remote_header_rewrite_domain="domain.invalid", swap_bangpath="no",
                                  allow_percent_hack="no")
    assert rewrite(ctx, "alice", "remote") == "alice@domain.invalid"
    assert rewrite(ctx, "a!b") == "a!b@example.com"
    assert rewrite(ctx, "u%h") == "u%h@example.com"
    with pytest.raises(ValueError):
        rewrite(ctx, "alice", "bogus")


def test_quote_unquote_local_part():
    assert quote_822_local("first last@example.com") == '"first last"@example.com'
    assert quote_822_local("user@other@example.com") == '"user@other"@example.com'
    assert quote_822_local("user%x@example.com") == "user%x@example.com"
    assert quote_822_local('a"b@x') == '"a\\"b"@x'
    assert unquote_822_local('"first last"@example.com') == "first last@example.com"
    assert unquote_822_local('"a\\"b"@x') == 'a"b@x'
    assert unquote_822_local("@r:\"x y\"@z") == "@r:x y@z"
    for a in ["first last@example.com", 'we"ird@x', "plain@x", ".dot@x", "a..b@x"]:
        assert unquote_822_local(quote_822_local(a)) == a


@pytest.mark.parametrize("name", ["25_unknown_local_user", "26_unknown_virtual_mailbox",
                                  "28_relay_denied_outside"])
def test_reference_rejects_follow_the_address_class(ctx, name):
    data = scenario(name)
    items = data["transcript"]
    for i, t in enumerate(items):
        if "data" not in t or not t["data"].startswith("RCPT TO:"):
            continue
        addr = re.search(r"<(.*)>", t["data"]).group(1)
        reply = next(x["line"] for x in items[i + 1:] if x.get("dir") == "S")
        r = resolve(ctx, addr)
        if "Relay access denied" in reply:
            assert not r.final
        elif "virtual alias table" in reply:
            assert r.cls == "virtual_alias" and reply.endswith(r.nexthop.split(" ", 1)[1])
        elif "virtual mailbox table" in reply:
            assert r.cls == "virtual_mailbox"
        elif "local recipient table" in reply:
            assert r.cls == "local"
