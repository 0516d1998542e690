"""NAME
    topology - the hosts of a virtual network, their roles, domains, links and MX records

SUMMARY
    fig = topology_figure(net)
    fig = topology_figure(net, path=["pc.example.com", "mail.example.com", "mail.oreilly.com"])
    fig = topology_figure(net, path=message_route(net.trace, conn="c1"))
    roles = host_roles(net)          # {"mail.example.com": ["MTA", "store"], ...}

DESCRIPTION
    Hosts are boxes coloured by role: MUA (a mail client), MTA (runs smtpd),
    store (POP3/IMAP/LMTP: where mail is kept and read) and DNS. A role comes
    from ``host.roles``, from what the host listens on (25/587 smtpd, 110/143
    POP3/IMAP, 24 LMTP, 53 DNS) and from the trace (a host whose client
    component is a MUA). Hosts of one DNS zone share a domain box; every host
    hangs off the network; a link or host that is down is drawn in red dashes.

    MX records are arrows from the domain to its mail exchanger, labelled with
    the preference (lower is tried first, RFC 5321 section 5.1). An optional
    path (host names, or the hops of ``route.message_route``) is drawn as
    numbered thick arrows.
"""

from __future__ import annotations

from typing import Any, Iterable

from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from ._style import BLACK, GREY, ROLE_COLOURS, VERMILLION, SimFigure, blank, finish, short

DOWN = "#777777"

ROLE_ORDER = ("MTA", "store", "DNS", "MUA", "host")
PORT_ROLES = {25: "MTA", 587: "MTA", 465: "MTA", 2525: "MTA", 110: "store", 143: "store", 995: "store",
              993: "store", 24: "store", 53: "DNS"}
WORD_ROLES = (("mua", "MUA"), ("client", "MUA"), ("mta", "MTA"), ("smtpd", "MTA"), ("postfix", "MTA"),
              ("store", "store"), ("mda", "store"), ("pop3", "store"), ("imap", "store"), ("lmtp", "store"),
              ("dovecot", "store"), ("dns", "DNS"))
HOST_W, HOST_H, GAP = 2.5, 0.95, 0.45
ROW_Y = {0: 2.1, 1: -2.1}


def zone_of(name: str) -> str:
    labels = name.strip().rstrip(".").lower().split(".")
    return ".".join(labels[-2:])


def _words_roles(words: Iterable[str]) -> list[str]:
    out = []
    for w in words:
        w = str(w).lower()
        for key, role in WORD_ROLES:
            if key in w and role not in out:
                out.append(role)
    return out


def host_roles(net: Any, trace: Any = None) -> dict[str, list[str]]:
    """Each host's roles, most important first."""
    trace = net.trace if trace is None else trace
    roles: dict[str, list[str]] = {name: _words_roles(getattr(h, "roles", []) or [])
                                   for name, h in net.hosts.items()}
    for name, h in net.hosts.items():
        found = roles[name]
        found += [r for r in _words_roles(getattr(h, "services", {}) or {}) if r not in found]
        for lst in (h.listening() if hasattr(h, "listening") else []):
            for r in _words_roles([lst.component]) or ([PORT_ROLES[lst.port]] if lst.port in PORT_ROLES else []):
                if r not in found:
                    found.append(r)
    for ev in trace:
        if ev.host not in roles:
            continue
        if ev.kind == "listen":
            r = _words_roles([ev.component]) or ([PORT_ROLES[ev.details.get("port")]]
                                                 if ev.details.get("port") in PORT_ROLES else [])
        elif ev.kind == "connect" and "mua" in ev.component.lower():
            r = ["MUA"]
        else:
            continue
        roles[ev.host] += [x for x in r if x not in roles[ev.host]]
    for ev in trace:
        port = ev.details.get("port")
        if ev.kind == "connect" and ev.host in roles and not roles[ev.host] and port in PORT_ROLES \
                and PORT_ROLES[port] in ("MTA", "store"):
            roles[ev.host].append("MUA")     # it talks to mail servers and serves nothing: a mail client
    return {n: sorted(r, key=ROLE_ORDER.index) or ["host"] for n, r in roles.items()}


def _path_hosts(path: Any) -> list[str]:
    if not path:
        return []
    out: list[str] = []
    for item in path:
        names = [item.src, item.dst] if hasattr(item, "src") else [str(item)]
        for n in names:
            if not out or out[-1] != n:
                out.append(n)
    return out


def _arc_middle(a: tuple[float, float], b: tuple[float, float], rad: float,
                scale: tuple[float, float]) -> tuple[float, float]:
    """The middle of matplotlib's arc3 curve from a to b (it bends in display space, hence ``scale``)."""
    sx, sy = scale
    dx, dy = (b[0] - a[0]) * sx, (b[1] - a[1]) * sy
    return ((a[0] + b[0]) / 2 + 0.5 * rad * dy / sx, (a[1] + b[1]) / 2 - 0.5 * rad * dx / sy)


def topology_figure(net: Any, *, path: Any = None, trace: Any = None, title: str | None = None) -> SimFigure:
    """The network drawn by domain, with roles, MX records and an optional message path."""
    roles = host_roles(net, trace)
    mx = sorted((r for r in net.dns.records if r.rtype == "MX"), key=lambda r: (r.name, r.pref, r.data))
    domains: dict[str, list[str]] = {}
    for name in net.hosts:
        domains.setdefault(zone_of(name), []).append(name)
    ghosts: set[str] = set()
    for r in mx:
        domains.setdefault(r.name if r.name not in net.hosts else zone_of(r.name), [])
        if r.data not in net.hosts:
            domains.setdefault(zone_of(r.data), [])
            if r.data not in domains[zone_of(r.data)]:
                domains[zone_of(r.data)].append(r.data)
                ghosts.add(r.data)

    width = {d: max(1, len(hs)) * (HOST_W + GAP) + 0.35 for d, hs in domains.items()}
    rows: tuple[list[str], list[str]] = ([], [])
    for d in domains:
        row = 0 if sum(width[x] for x in rows[0]) <= sum(width[x] for x in rows[1]) else 1
        rows[row].append(d)
    total = max(sum(width[d] + 0.5 for d in r) for r in rows) + 3.2
    pos: dict[str, tuple[float, float]] = {}
    dom_box: dict[str, tuple[float, float, float, float]] = {}
    for row, names in enumerate(rows):
        x = 0.4
        for d in names:
            y = ROW_Y[row]
            dom_box[d] = (x, y - 0.85, width[d], 1.95)
            for i, h in enumerate(domains[d]):
                pos[h] = (x + 0.35 / 2 + GAP / 2 + HOST_W / 2 + i * (HOST_W + GAP), y - 0.2 if row == 0 else y + 0.2)
            x += width[d] + 0.5

    fig = SimFigure(figsize=(max(9.0, total * 0.95), 6.4), dpi=100)
    ax = fig.add_axes((0.01, 0.12, 0.98, 0.78))
    blank(ax, (0, total), (-3.4, 3.4))
    scale = (fig.get_figwidth() * 0.98 / total, fig.get_figheight() * 0.78 / 6.8)
    bus_y = 0.0
    ax.plot([0.2, total - 0.3], [bus_y, bus_y], color=BLACK, lw=3, solid_capstyle="round", gid="network")
    ax.text(0.25, bus_y + 0.12, "virtual network", fontsize=8, color=GREY)
    dns_x = total - 1.5
    ax.add_patch(FancyBboxPatch((dns_x - 1.1, -0.95), 2.2, 0.75, boxstyle="round,pad=0.04",
                                fc=ROLE_COLOURS["DNS"], alpha=0.35, ec=BLACK, gid="dns"))
    ax.text(dns_x, -0.575, f"DNS\n{len(net.dns.records)} records", ha="center", va="center", fontsize=8)
    ax.plot([dns_x, dns_x], [bus_y, -0.2], color=BLACK, lw=1.2)

    for d, (x, y, w, h) in dom_box.items():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc="none", ec=GREY, ls=":",
                                    lw=1.2, gid=f"domain-{d}"))
        top = y + h - 0.18 if y > 0 else y + 0.12
        ax.text(x + 0.15, top, d, fontsize=9, fontweight="bold", va="center", color=GREY)

    down_links = set(net.links_down())
    for name, (x, y) in pos.items():
        host = net.hosts.get(name)
        rs = roles.get(name, ["host"]) if host is not None else ["host"]
        up = host is None or getattr(host, "up", True)
        face = ROLE_COLOURS[rs[0]]
        edge = DOWN if not up else BLACK
        ax.add_patch(FancyBboxPatch((x - HOST_W / 2, y - HOST_H / 2), HOST_W, HOST_H, boxstyle="round,pad=0.04",
                                    fc=face, alpha=0.45 if host is not None else 0.12, ec=edge,
                                    ls="--" if (not up or host is None) else "-", lw=1.3, gid=f"host-{name}"))
        for k, r in enumerate(rs[1:]):
            ax.add_patch(FancyBboxPatch((x + HOST_W / 2 - 0.28 - k * 0.3, y + HOST_H / 2 - 0.28), 0.22, 0.2,
                                        boxstyle="square,pad=0", fc=ROLE_COLOURS[r], ec=BLACK, lw=0.5))
        info = (f"{getattr(host, 'ip', '')} · {' + '.join(rs)}" if host is not None else "not on this network")
        ax.text(x, y, f"{short(name, 28)}\n{info}" + ("" if up else "\n(down)"), ha="center", va="center",
                fontsize=7.5, gid=f"hostlabel-{name}")
        if host is not None:
            y_edge = y - HOST_H / 2 if y > 0 else y + HOST_H / 2
            ax.plot([x, x], [y_edge, bus_y], color=DOWN if not up else BLACK, lw=1.2,
                    ls=":" if not up else "-", zorder=0)
    for a, b in sorted(down_links):
        if a in pos and b in pos:
            ax.add_patch(FancyArrowPatch(pos[a], pos[b], arrowstyle="-", connectionstyle="arc3,rad=-0.25",
                                         color=DOWN, ls=":", lw=1.8, gid=f"linkdown-{a}-{b}"))
            lx, ly = _arc_middle(pos[a], pos[b], -0.25, scale)
            ax.text(lx, ly, "✕ link down", fontsize=7.5, color=DOWN, ha="center", va="center",
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"))

    for r in mx:
        d = r.name if r.name in dom_box else zone_of(r.name)
        if d not in dom_box or r.data not in pos:
            continue
        x, y, w, h = dom_box[d]
        start = (x + 0.3, y + h - 0.35) if y > 0 else (x + 0.3, y + 0.35)
        hx, hy = pos[r.data]
        end = (hx, hy + (HOST_H / 2 + 0.04) * (1 if start[1] > hy else -1))
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color=ROLE_COLOURS["DNS"],
                                     lw=1.6, connectionstyle="arc3,rad=-0.2", shrinkB=1, gid=f"mx-{r.name}-{r.data}"))
        lx, ly = _arc_middle(start, end, -0.2, scale)
        ax.text(lx, ly, f"MX {r.pref}" + (f" ({r.name})" if r.name != d else ""), fontsize=7.5,
                color=ROLE_COLOURS["DNS"], fontweight="bold", ha="center", va="center",
                bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))

    hops: list[str] = []
    for h in _path_hosts(path):
        if h in pos and (not hops or hops[-1] != h):
            hops.append(h)
    for k, (a, b) in enumerate(zip(hops, hops[1:]), 1):
        if a == b:
            continue
        ax.add_patch(FancyArrowPatch(pos[a], pos[b], arrowstyle="-|>", mutation_scale=18, color=VERMILLION,
                                     lw=3, connectionstyle="arc3,rad=0.3", shrinkA=20, shrinkB=20, zorder=5,
                                     gid=f"path-{k}"))
        mx_, my = _arc_middle(pos[a], pos[b], 0.3, scale)
        ax.text(mx_, my, str(k), fontsize=9, color="white", fontweight="bold", ha="center", va="center", zorder=6,
                bbox=dict(boxstyle="circle,pad=0.2", fc=VERMILLION, ec="none"))

    used = sorted({r for n in pos for r in (roles.get(n) or ["host"])}, key=ROLE_ORDER.index)
    meaning = {"MUA": "MUA: a mail client", "MTA": "MTA: sends and receives mail (smtpd)",
               "store": "store: keeps mailboxes (POP3/IMAP/LMTP)", "DNS": "DNS: answers MX and A queries",
               "host": "other host"}
    handles: list[Any] = [Patch(fc=ROLE_COLOURS[r], alpha=0.45, ec=BLACK, label=meaning[r]) for r in used]
    if mx:
        handles.append(Line2D([], [], color=ROLE_COLOURS["DNS"], lw=1.6, label="MX record (preference)"))
    handles.append(Line2D([], [], color=BLACK, lw=1.2, label="network link"))
    if down_links or any(not getattr(h, "up", True) for h in net.hosts.values()):
        handles.append(Line2D([], [], color=DOWN, lw=1.8, ls=":", label="down (host or link)"))
    if len(hops) > 1:
        handles.append(Line2D([], [], color=VERMILLION, lw=3, label="the message's path (numbered)"))
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), fontsize=8, frameon=False)
    finish(fig, title or f"Network: {len(net.hosts)} hosts in {len(domains)} domains")
    return fig
