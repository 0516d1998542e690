"""NAME
    base - what every ready-made network is made of

SUMMARY
    sc = Scenario("tour", seed, net, hosts={"mail_example": h, ...}, muas={"alice": mua})
    sc.mail_example, sc.alice, sc.hosts, sc.muas, sc.run(), sc.describe(), sc.close()
    mail_host(net, "mail.example.com", "10.0.0.25", users=["alice", "bob"],
              main_cf=["mynetworks = 127.0.0.0/8"], services=[SUBMISSION], store=True)
    client_host(net, "pc.example.com", "10.0.0.11")
    store_host(net, "store.example.com", "10.0.0.30", users=["erin"])

DESCRIPTION
    A scenario is a Network plus names for the hosts and mail clients a
    lesson talks about. The host helpers do what an administrator does on a
    fresh machine, in the same order: lay out the Unix root (``simlab
    init``), edit main.cf as ``postconf -e`` does and master.cf as
    ``postconf -Me`` does, then ``postfix start``; ``store=True`` also
    starts the Dovecot-like POP3 and IMAP services on the machine, which
    then read the mbox files that local(8) writes. ``store_host`` is a
    separate message store: Dovecot's LMTP (port 24), POP3 and IMAP, no MTA.

    Everything a scenario builds depends only on its arguments and the
    seed: two builds with the same seed give byte-identical traces.

SEE ALSO
    simlab.sim.network, simlab.sim.rootfs, postconf(1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..sim.network import Host, Network

# Debian's commented-out submission entry, without TLS (the lab has no certificates).
SUBMISSION = ("submission/inet = submission inet n - n - - smtpd"
              " -o syslog_name=postfix/submission"
              " -o smtpd_sasl_auth_enable=yes"
              " -o smtpd_client_restrictions=permit_sasl_authenticated,reject"
              " -o smtpd_relay_restrictions=permit_sasl_authenticated,reject")


@dataclass
class Scenario:
    """A ready-made network: the Network, its named hosts and its mail clients."""

    name: str
    seed: int
    net: Network
    hosts: dict[str, Host] = field(default_factory=dict)
    muas: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        for table in ("hosts", "muas", "extras"):
            found = self.__dict__.get(table, {})
            if name in found:
                return found[name]
        raise AttributeError(f"scenario {self.__dict__.get('name')!r} has no host or client {name!r}")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.hosts) | set(self.muas) | set(self.extras))

    @property
    def trace(self) -> Any:
        return self.net.trace

    def run(self, until: float | None = None) -> float:
        """Run the network until it is quiet (or until virtual time ``until``)."""
        return self.net.run(until)

    def describe(self) -> str:
        """One line per host: name, address, roles and accounts; then the mail clients."""
        rows = [("name in the scenario", "host", "IP address", "roles", "mail accounts")]
        for key, h in self.hosts.items():
            rows.append((key, h.name, h.ip, " + ".join(h.roles) or "host", ", ".join(_mail_users(h))))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        for key, m in self.muas.items():
            smtp = f"{m.smtp[0]}:{m.smtp[1]}"
            lines.append(f"mail client {key}: {m.address} on {m.host.name}, sends via {smtp}"
                         + (" with a password" if m.password is not None else ""))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Scenario {self.name} seed={self.seed}: {', '.join(self.hosts)}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(f"{self.summary}\n\n{self.describe()}" if self.summary else self.describe())

    def close(self) -> None:
        """Stop every Postfix and forget the network's temporary folder."""
        for h in self.net.hosts.values():
            pf = h.services.get("postfix")
            if pf is not None and pf.running:
                self.net.run_sync(pf.stop())
        self.net.close()


def _mail_users(h: Host) -> list[str]:
    from ..sim.rootfs import accounts
    return [a.name for a in accounts(h.root) if a.uid >= 1000 and a.can_login]


def postconf_e(host: Host, settings: Iterable[str]) -> None:
    """``postconf -e name=value ...`` on a host's main.cf (before or between reloads)."""
    from ..postfix.config.maincf import EDIT_CONF, edit_main_cf
    args = list(settings)
    if not args:
        return
    path = host.path("/etc/postfix/main.cf")
    path.write_text(edit_main_cf(path.read_text(), "/etc/postfix/main.cf", EDIT_CONF, args, _strict))


def postconf_me(host: Host, entries: Iterable[str]) -> None:
    """``postconf -Me service/type='entry'`` on a host's master.cf."""
    from ..postfix.config.masterfmt import edit_master_cf
    args = list(entries)
    if not args:
        return
    path = host.path("/etc/postfix/master.cf")
    path.write_text(edit_master_cf(path.read_text(), "/etc/postfix/master.cf", "entry", "edit", args, _strict))


def _strict(message: str) -> None:
    raise ValueError(f"postconf: warning: {message}")


def mail_host(net: Network, name: str, ip: str, *, users: Iterable[str] = (), main_cf: Iterable[str] = (),
              services: Iterable[str] = (), store: bool = False, start: bool = True) -> Host:
    """A mail server: Unix root with ``users``, main.cf/master.cf edits, Postfix started.

    With ``store`` the Dovecot-like POP3 (110) and IMAP (143) services run
    on the same machine and read the mbox files that local(8) writes.
    """
    host = net.host(name, ip=ip, users=list(users))
    host.roles[:] = ["MTA"]
    postconf_e(host, main_cf)
    postconf_me(host, services)
    if start:
        host.start_postfix()
    if store:
        start_store(host)
    return host


def start_store(host: Host, *, lmtp: bool = False) -> Any:
    """The Dovecot-like store on ``host``: POP3 (110) and IMAP (143), with ``lmtp`` also LMTP (24).

    Mailboxes are /var/mail/USER; accounts come from /etc/dovecot/users.
    Returns the MailStore.
    """
    from ..postfix.common.context import HostTrace, VirtualClock
    from ..store.servers import start_virtual_store
    clock = VirtualClock(host.net.loop).now
    store = start_virtual_store(host, clock)
    if lmtp:
        from ..proto.lmtp_delivery import LmtpSettings
        from ..store.delivery import DeliverSettings, MailDeliverer
        from ..store.lmtpd import ProcessPool, lmtp_handler
        from ..store.servers import DovecotLog
        log = DovecotLog(host.root, clock, HostTrace(host.net.trace, host.name, host.net.loop.time))
        deliverer = MailDeliverer(store, DeliverSettings(hostname=host.name), log)
        pids = iter(range(1001, 1 << 22))
        host.listen_streams(24, lmtp_handler(deliverer, clock, log, settings=LmtpSettings(hostname=host.name),
                                             pids=ProcessPool(lambda: next(pids))), component="lmtp")
    if "store" not in host.roles:
        host.roles.append("store")
    return store


def store_host(net: Network, name: str, ip: str, *, users: Iterable[str]) -> Host:
    """A message store machine: accounts, POP3, IMAP and LMTP; no MTA runs on it."""
    host = net.host(name, ip=ip, users=list(users))
    host.roles[:] = []
    start_store(host, lmtp=True)
    return host


def client_host(net: Network, name: str, ip: str) -> Host:
    """A user's computer: it runs a mail client and serves nothing."""
    host = net.host(name, ip=ip)
    host.roles[:] = ["MUA"]
    return host


def mua(net: Network, host: Host, address: str, server: Host, *, port: int = 587,
        password: str | None = None, reads_from: Host | None = None) -> Any:
    """A mail client on ``host`` that submits to ``server`` and reads POP3/IMAP from ``reads_from``."""
    from ..mua import MUA
    reader = reads_from or server
    return MUA(net, host, address, smtp=(server.ip, port), password=password,
               pop3=(reader.ip, 110), imap=(reader.ip, 143))
