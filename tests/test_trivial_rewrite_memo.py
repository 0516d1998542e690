"""resolve() answers are remembered, but never past a change of the tables or the configuration."""

from __future__ import annotations

import os
from pathlib import Path

from simlab.postfix.trivial_rewrite import resolve
from simlab.sim.network import Network


def test_resolve_sees_an_edited_table_and_a_reload(tmp_path: Path) -> None:
    net = Network(seed=1, workdir=tmp_path)
    mx = net.host("mail.example.com", ip="10.0.0.25", users=["alice"])
    with open(mx.path("/etc/postfix/main.cf"), "a") as f:
        f.write("transport_maps = texthash:/etc/postfix/transport\n")
    table = mx.path("/etc/postfix/transport")
    table.write_text("corp.example  smtp:[10.0.0.30]:25\n")
    mx.start_postfix()
    ctx = mx.postfix.ctx

    first = resolve(ctx, "frank@corp.example")
    assert (first.transport, first.nexthop) == ("smtp", "[10.0.0.30]:25")
    assert resolve(ctx, "frank@corp.example") == first              # answered again, the same

    table.write_text("corp.example  lmtp:inet:[10.0.0.31]:24\n")
    st = table.stat()
    os.utime(table, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))   # a later edit, as a student's
    second = resolve(ctx, "frank@corp.example")
    assert (second.transport, second.nexthop) == ("lmtp", "inet:[10.0.0.31]:24")

    with open(mx.path("/etc/postfix/main.cf"), "a") as f:
        f.write("relay_domains = corp.example\n")
    net.run_sync(mx.postfix.reload())
    assert resolve(ctx, "frank@corp.example").cls == "relay"
    net.close()
