"""NAME
    faults - one call per fault for the course's what-if labs, each with its undo

SUMMARY
    f = faults(net)                              # the network's fault panel (net.faults)
    cut = f.link_down(mta_a, mta_b); ...; cut.undo()
    f.host_down(mx); f.port_closed(mx, 25); f.slow_link(a, b, 20.0)
    f.dns_failure("oreilly.com"); f.dns_failure()          # a zone, or the DNS server itself
    f.store_over_quota(store, "bob")
    f.greylist(mx, for_seconds=300); f.reject_all(mx, code=550)
    with f.host_down(mx): net.run(until=net.now + 3600)   # undone at the end of the block
    f.active; f.undo_all()

DESCRIPTION
    Each call breaks one thing the way it breaks in real life and returns
    a ``Fault`` handle whose ``undo()`` repairs it (once; a handle is also
    a context manager). Nothing about Postfix is faked: the MTAs meet the
    fault through the network, DNS or the remote server's replies, and log,
    defer, retry and bounce as Postfix does:

      link_down(a, b)       packets between a and b are lost: "connect to
                            H[A]:25: Connection timed out"
      host_down(h)          h crashes (connections reset) and stays down:
                            the same time-out for its clients
      port_closed(h, port)  nothing listens on the port any more:
                            "connect to H[A]:25: Connection refused"
      slow_link(a, b, s)    s seconds one way: slow sessions, and when a
                            round trip outlasts smtp_connect_timeout the
                            connection times out
      dns_failure(zone)     the zone answers SERVFAIL: "Host or domain name
                            not found. Name service error for name=Z
                            type=MX: Host not found, try again"; without a
                            zone the network's DNS server host goes down
                            and resolvers time out (same log line)
      store_over_quota(store, user)
                            the user's mailbox is full: Dovecot answers
                            552 5.2.2 (bounce) or, with quota_full_tempfail,
                            452 4.2.2 (deferred)
      greylist(h, for_seconds)
                            h's Postfix asks a postgrey policy server
                            (check_policy_service): a first attempt is
                            answered "450 4.2.0 <rcpt>: Recipient address
                            rejected: Greylisted, see ..." until for_seconds
                            have passed; the retry then gets through
      reject_all(h, code)   h's smtpd refuses every recipient: 5xx
                            ("Recipient address rejected: Access denied",
                            with reject_code) bounces, 4xx (defer_code)
                            defers

    greylist and reject_all change the host's main.cf and run ``postfix
    reload``; undo puts main.cf back and reloads again. Every fault and
    repair is a ``fault`` trace event (details: fault, state on/off).

SEE ALSO
    simlab.sim.network, simlab.sim.postgrey, simlab.store.node, simlab.dns.server,
    Postfix qmgr(8) (retries), bounce(8)
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

from .postgrey import Postgrey

_PANELS: "weakref.WeakKeyDictionary[Any, Faults]" = weakref.WeakKeyDictionary()


def _name(h: Any) -> str:
    return h if isinstance(h, str) else h.name


class Fault:
    """One fault in force; ``undo()`` repairs it."""

    def __init__(self, panel: "Faults", kind: str, host: str, repair: Callable[[], None],
                 **details: Any) -> None:
        self.panel = panel
        self.kind = kind
        self.host = host
        self.details = details
        self._repair = repair
        self.program: Any = None      # a program the fault started (greylist: its Postgrey)
        self.active = True
        panel.active.append(self)
        panel.record(self, "on")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.details.items())
        state = "" if self.active else " undone"
        return f"<Fault {self.kind}({self.host}{', ' + args if args else ''}){state}>"

    def undo(self) -> None:
        if not self.active:
            return
        self.active = False
        self._repair()
        if self in self.panel.active:
            self.panel.active.remove(self)
        self.panel.record(self, "off")

    def __enter__(self) -> "Fault":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.undo()


class Faults:
    """The fault panel of one network (see the module documentation)."""

    def __init__(self, net: Any) -> None:
        self.net = net
        self.active: list[Fault] = []

    def record(self, fault: Fault, state: str) -> None:
        self.net.trace.record(self.net.now, fault.host, "faults", "fault", fault=fault.kind,
                              state=state, **{k: str(v) for k, v in fault.details.items()})

    def undo_all(self) -> None:
        for fault in reversed(list(self.active)):
            fault.undo()

    # -- the network ------------------------------------------------------------------------
    def link_down(self, a: Any, b: Any) -> Fault:
        self.net.link_down(a, b)
        return Fault(self, "link_down", _name(a), lambda: self.net.link_up(a, b), peer=_name(b))

    def host_down(self, host: Any) -> Fault:
        h = self.net[_name(host)]
        h.crash()
        return Fault(self, "host_down", h.name, h.restart)

    def port_closed(self, host: Any, port: int) -> Fault:
        h = self.net[_name(host)]
        closed = [lst for lst in h.listening() if lst.port == port]
        for lst in closed:
            h.unlisten(port, addr=lst.addr)

        def reopen() -> None:
            open_now = {(lst.addr, lst.port) for lst in h.listening()}
            for lst in closed:
                if (lst.addr, port) not in open_now:
                    h.listen(port, lst.factory, component=lst.component, addr=lst.addr)

        return Fault(self, "port_closed", h.name, reopen, port=port)

    def slow_link(self, a: Any, b: Any, latency: float) -> Fault:
        before = self.net.latency(_name(a), _name(b))
        self.net.link(a, b, latency)
        return Fault(self, "slow_link", _name(a), lambda: self.net.link(a, b, before),
                     peer=_name(b), latency=latency)

    # -- DNS ------------------------------------------------------------------------------------
    def dns_failure(self, zone: str | None = None) -> Fault:
        """SERVFAIL for ZONE; without a zone, the network's DNS server host goes down."""
        if zone is not None:
            self.net.dns.break_zone(zone)
            server = getattr(self.net.dns, "server", None)
            where = server.host.name if server is not None else "dns"
            return Fault(self, "dns_failure", where, lambda: self.net.dns.repair_zone(zone),
                         zone=zone)
        server = getattr(self.net.dns, "server", None)
        if server is None:
            raise ValueError("no DNS server runs on this network: name a zone, "
                             "or start one with simlab.dns.server.dns_server(host)")
        server.host.crash()
        return Fault(self, "dns_failure", server.host.name, server.host.restart, zone="*")

    # -- the message store ------------------------------------------------------------------------
    def store_over_quota(self, store: Any, user: str) -> Fault:
        """USER's mailbox on STORE (a simlab.store.node.StoreNode) is full from now on."""
        used = store.deliverer.usage(user)
        old = store.set_quota(user, max(used, 1))
        return Fault(self, "store_over_quota", store.host.name,
                     lambda: store.set_quota(user, old), user=user)

    # -- the remote MTA ------------------------------------------------------------------------------
    def _postfix(self, host: Any) -> Any:
        h = self.net[_name(host)]
        pf = h.services.get("postfix")
        if pf is None:
            raise ValueError(f"{h.name} runs no Postfix (net.host(..., mta=True))")
        return h, pf

    def _main_cf(self, pf: Any, settings: dict[str, str]) -> Callable[[], None]:
        """postconf -e SETTINGS + postfix reload; returns what puts main.cf back."""
        path = pf.ctx.path("/etc/postfix/main.cf")
        before = path.read_bytes()
        for name, value in settings.items():
            res = pf.command("postconf", "-e", f"{name}={value}")
            if res.rc != 0:
                raise ValueError(f"postconf -e {name}: {res.stderr.strip()}")
        self._reload(pf)

        def restore() -> None:
            path.write_bytes(before)
            self._reload(pf)

        return restore

    def _reload(self, pf: Any) -> None:
        loop = self.net.loop
        if loop.is_running():
            loop.create_task(pf.reload())
        else:
            self.net.run_sync(pf.reload())

    def _restrictions(self, pf: Any, extra: str) -> str:
        try:
            current = pf.ctx.config["smtpd_recipient_restrictions"].strip()
        except KeyError:
            current = ""
        return f"{current}, {extra}" if current else extra

    def reject_all(self, host: Any, code: int = 550) -> Fault:
        """HOST's smtpd refuses every recipient with CODE (4xx defers, 5xx bounces)."""
        h, pf = self._postfix(host)
        if code // 100 == 5:
            settings = {"smtpd_recipient_restrictions": "reject", "reject_code": str(code)}
        elif code // 100 == 4:
            settings = {"smtpd_recipient_restrictions": "defer", "defer_code": str(code)}
        else:
            raise ValueError(f"reject_all: a 4xx or 5xx code, not {code}")
        return Fault(self, "reject_all", h.name, self._main_cf(pf, settings), code=code)

    def greylist(self, host: Any, for_seconds: float = 300) -> Fault:
        """HOST greylists (postgrey --delay=FOR_SECONDS behind check_policy_service)."""
        h, pf = self._postfix(host)
        grey = Postgrey(h, delay=for_seconds).start()
        policy = f"check_policy_service inet:{grey.addr}:{grey.port}"
        restore = self._main_cf(pf, {"smtpd_recipient_restrictions": self._restrictions(pf, policy)})

        def repair() -> None:
            restore()
            grey.stop()

        fault = Fault(self, "greylist", h.name, repair, for_seconds=for_seconds)
        fault.program = grey
        return fault


def faults(net: Any) -> Faults:
    """The fault panel of ``net`` (one per network)."""
    panel = _PANELS.get(net)
    if panel is None:
        panel = _PANELS[net] = Faults(net)
    return panel
