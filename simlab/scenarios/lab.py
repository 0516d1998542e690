"""NAME
    lab - the reference lab: one host with the lab configuration of the reference battery

SUMMARY
    l = lab(seed=1)
    l.mail                       # mail.example.com, Postfix running with the lab's main.cf/master.cf
    l.sinks["relay"]             # the smtp-sink behind relay.example (127.0.0.1:2526)
    l.bob.send_sync(to="team@example.com", subject="hi", body="...")

DESCRIPTION
    The files of simlab/data/lab (copies of the reference battery's lab/)
    are installed the way the battery's README table says:

        main.cf, master.cf, transport, virtual, vmailbox, incl.list
                                          /etc/postfix/
        aliases                           /etc/aliases
        bob.forward                       /home/bob/.forward
        lab-pipe, lab-alias-pipe          /usr/local/bin/ (and registered as
                                          programs of the simulated host)
        dovecot-lab.conf                  /etc/dovecot/lab-dovecot.conf
        dovecot-users                     /etc/dovecot/lab-users (and
                                          /etc/dovecot/users, which simlab's
                                          store reads)

    then ``postmap`` builds the three hash tables, ``newaliases`` the
    aliases database, and Postfix starts. The Unix accounts are alice, bob,
    erin and robot. The lab listens on loopback only (``inet_interfaces =
    loopback-only``), so clients connect from the host itself to 127.0.0.1,
    as in the capture: the mail client ``bob`` does exactly that.

    The three smtp-sink listeners of the battery run too: 127.0.0.1:2526
    (relay.example, dumps under /var/spool/labsink/smtp-*), 127.0.0.1:2524
    (LMTP, lmtp.example) and 127.0.0.1:2528 (every RCPT gets 500,
    bounce.example). Nothing listens on 2599 (deferred.example).
    POP3 and IMAP serve the mbox files in /var/mail.
"""

from __future__ import annotations

import io
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from ..sim.network import Host, Network
from .base import Scenario, start_store

INSTALL = {
    "main.cf": "/etc/postfix/main.cf",
    "master.cf": "/etc/postfix/master.cf",
    "aliases": "/etc/aliases",
    "incl.list": "/etc/postfix/incl.list",
    "bob.forward": "/home/bob/.forward",
    "virtual": "/etc/postfix/virtual",
    "vmailbox": "/etc/postfix/vmailbox",
    "transport": "/etc/postfix/transport",
    "lab-pipe": "/usr/local/bin/lab-pipe",
    "lab-alias-pipe": "/usr/local/bin/lab-alias-pipe",
    "dovecot-lab.conf": "/etc/dovecot/lab-dovecot.conf",
    "dovecot-users": "/etc/dovecot/lab-users",
}
USERS = ["alice", "bob", "erin", "robot", "vmail"]  # as the reference lab's /etc/passwd
SPOOLS = ("/var/spool/labpipe", "/var/spool/labfiles", "/var/spool/labsink", "/var/mail/vhosts")
SINKS = {
    "relay": "-h sink.example -d /var/spool/labsink/smtp-%Y%m%d%H%M%S. 127.0.0.1:2526 256",
    "lmtp": "-L -h lmtpsink.example -d /var/spool/labsink/lmtp-%Y%m%d%H%M%S. 127.0.0.1:2524 256",
    "bounce": "-h bouncesink.example -f RCPT 127.0.0.1:2528 256",
}
ALIAS_PIPE_ENV = ("SENDER", "RECIPIENT", "LOCAL", "DOMAIN", "EXTENSION", "USER", "HOME", "SHELL",
                  "LOGNAME", "ORIGINAL_RECIPIENT")
SUMMARY = ("The reference lab: mail.example.com with every address class -- local (example.com), "
           "virtual alias (alias.example, catchall.example), virtual mailbox (vmail.example), "
           "relay (relay.example, lmtp.example, discard.example, deferred.example) and the default "
           "(error: no outbound in this lab) -- on loopback only.")


def lab_file(name: str) -> bytes:
    """One file of the lab configuration as shipped in simlab/data/lab."""
    return resources.files("simlab").joinpath("data/lab", name).read_bytes()


def install_lab(root: Path) -> None:
    """Copy the lab files into a host root that ``init_root`` laid out, and build the tables."""
    from ..postfix.commands import postalias, postmap
    for name, unix in INSTALL.items():
        target = root / unix.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(lab_file(name))
        if unix.startswith("/usr/local/bin/"):
            target.chmod(0o755)
    shutil.copyfile(root / "etc/dovecot/lab-users", root / "etc/dovecot/users")
    for d in SPOOLS:
        (root / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for main, args in ((postmap.main, ["hash:/etc/postfix/virtual"]), (postmap.main, ["hash:/etc/postfix/vmailbox"]),
                       (postmap.main, ["hash:/etc/postfix/transport"]), (postalias.main, ["hash:/etc/aliases"])):
        err = io.StringIO()
        if main(["--root", str(root)] + args, stdout=io.StringIO(), stderr=err) != 0:
            raise RuntimeError(f"building the lab's tables failed: {err.getvalue().strip()}")


def register_lab_programs(host: Host) -> None:
    """The two shell scripts of the lab as programs of the simulated host (same output files)."""
    from ..postfix.commands_registry import CommandRun, register_command

    def lab_pipe(run: CommandRun) -> int:
        stamp = int(round(run.now * 1e9))
        head = f"argv: {' '.join(run.argv[1:])}\nuid: {run.user}\n----\n".encode()
        run.path(f"/var/spool/labpipe/msg.{stamp}").write_bytes(head + run.stdin)
        return 0

    def lab_alias_pipe(run: CommandRun) -> int:
        stamp = int(round(run.now * 1e9))
        env = sorted(f"{k}={v}" for k, v in run.env.items()
                     if k in ALIAS_PIPE_ENV or k.startswith("CLIENT_"))
        head = "".join(line + "\n" for line in [f"uid: {run.user}", *env, "----"]).encode()
        run.path(f"/var/spool/labfiles/pipe.{stamp}").write_bytes(head + run.stdin)
        return 0

    register_command(host, "/usr/local/bin/lab-pipe", lab_pipe)
    register_command(host, "/usr/local/bin/lab-alias-pipe", lab_alias_pipe)


def lab(seed: int = 1) -> Scenario:
    """mail.example.com with the reference lab configuration, Postfix and its sinks running."""
    from ..mua import MUA
    from ..postfix.smtp_sink import smtp_sink
    from ..sim.rootfs import init_root
    net = Network(seed=seed)
    host = net.host("mail.example.com", ip="10.0.0.25")
    init_root(host.root, host.name, domain="example.com", users=USERS)
    install_lab(host.root)
    register_lab_programs(host)
    host.roles[:] = ["MTA"]
    host.start_postfix()
    start_store(host)
    sinks: dict[str, Any] = {name: smtp_sink(host, argv) for name, argv in SINKS.items()}
    bob = MUA(net, host, "bob@example.com", smtp=("127.0.0.1", 25), helo="client.example")
    sc = Scenario("lab", seed, net, {"mail": host}, {"bob": bob}, SUMMARY)
    sc.extras["sinks"] = sinks
    return sc
