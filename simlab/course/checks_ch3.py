"""NAME
    checks_ch3 - the automatic checks of chapter 3's exercises (Postfix architecture)

SUMMARY
    from simlab.course.checks_ch3 import EXERCISES
    EXERCISES["maildir"].check(sc)        # sc: the lab scenario the notebook built
    check_bob_maildir(sc) -> []           # or the list of what is still wrong

DESCRIPTION
    Each check reads the outcome from the simulated host, never from the
    student's code: the files under the host root (main.cf as saved, the
    lookup tables as a freshly started daemon opens them, the Maildir
    folders), the running instance's configuration (what Postfix uses
    until the next reload), trivial-rewrite's answer and the trace
    (deliveries, refused recipients). A problem says what is wrong, in the
    order an administrator would find it, and never how to write the fix.

        maildir          get a message into bob's Maildir new/ (local delivery, home_mailbox)
        vmailbox         make example.net a virtual mailbox domain with a Maildir for
                         frank@example.net, and deliver to it
        alias            make help@alias.example reach both alice and erin (virtual alias)

SEE ALSO
    simlab.course.exercise, simlab.course.labtools
"""

from __future__ import annotations

from typing import Any

from .exercise import Exercise
from .labtools import deliveries, refusals, saved_config, table_lookup

VM_ADDRESS = "frank@example.net"
VM_DOMAIN = "example.net"
ALIAS_ADDRESS = "help@alias.example"
ALIAS_TARGETS = ("alice@example.com", "erin@example.com")


def _mail(sc: Any) -> Any:
    return sc.hosts.get("mail") or next(iter(sc.hosts.values()))


def _source_has(host: Any, spec: str, key: str) -> bool:
    """Does the text file behind a hash:/btree: table have a line for ``key``?"""
    kind, _, name = spec.partition(":")
    if kind not in ("hash", "btree") or not name.startswith("/"):
        return False
    try:
        text = host.path(name).read_text()
    except OSError:
        return False
    return any(line.split()[0].lower() == key.lower() for line in text.splitlines()
               if line.strip() and not line.lstrip().startswith("#") and not line[0].isspace())


def _not_reloaded(name: str, saved: str, live: str) -> str:
    return (f"main.cf says {name} = {saved}, but the running Postfix still uses {name} = {live or '(empty)'}: "
            "it has not read main.cf again since you changed it")


# -- get a message into bob's Maildir new/ ----------------------------------------------
def check_bob_maildir(sc: Any) -> list[str]:
    """A file in /home/bob/Maildir/new/, delivered by local(8)."""
    host = _mail(sc)
    new = host.path("/home/bob/Maildir/new")
    if new.is_dir() and any(new.iterdir()):
        return []
    cfg = saved_config(host)
    if cfg is None:
        return ["main.cf cannot be read: run postconf -n to see the error"]
    saved, live = cfg["home_mailbox"], host.postfix.ctx.config["home_mailbox"]
    if saved == "":
        return ["local(8) still delivers bob's mail into the mbox file /var/mail/bob "
                "(main.cf names no mailbox inside the home folder)"]
    if saved.rstrip("/") != "Maildir":
        return [f"main.cf delivers into ~/{saved} inside the home folder, not into ~/Maildir/"]
    if not saved.endswith("/"):
        return [f"home_mailbox = {saved} names a single mbox FILE ~/{saved}: local(8) makes a Maildir "
                "folder only for a name that ends in /"]
    if live != saved:
        return [_not_reloaded("home_mailbox", saved, live)]
    return ["the configuration is right, but /home/bob/Maildir/new/ is still empty: "
            "no message has been delivered to bob since the change"]


# -- make example.net a virtual mailbox domain ---------------------------------------------
def check_virtual_mailbox(sc: Any) -> list[str]:
    """example.net in virtual_mailbox_domains, frank@example.net a Maildir, a message delivered there."""
    from ..postfix.trivial_rewrite import resolve
    host = _mail(sc)
    cfg = saved_config(host)
    if cfg is None:
        return ["main.cf cannot be read: run postconf -n to see the error"]
    problems: list[str] = []
    live = resolve(host.postfix.ctx, VM_ADDRESS)
    if VM_DOMAIN not in [d.lower() for d in cfg.get_list("virtual_mailbox_domains")]:
        problems.append(f"{VM_DOMAIN} is not a virtual mailbox domain in main.cf: trivial-rewrite puts "
                        f"{VM_ADDRESS} in the address class '{live.cls}'")
    elif live.cls != "virtual_mailbox":
        problems.append(f"main.cf lists {VM_DOMAIN} as a virtual mailbox domain, but the running Postfix "
                        f"still puts {VM_ADDRESS} in the class '{live.cls}': it has not read main.cf again")
    specs = cfg.get_list("virtual_mailbox_maps")
    value = next((v for v in (table_lookup(host, s, VM_ADDRESS) for s in specs) if v is not None), None)
    if value is None:
        if any(_source_has(host, s, VM_ADDRESS) for s in specs):
            problems.append(f"the text file of virtual_mailbox_maps has {VM_ADDRESS}, but its indexed "
                            ".db file does not: the table was not rebuilt after the edit")
        else:
            problems.append(f"virtual_mailbox_maps ({', '.join(specs) or 'empty'}) has no mailbox for {VM_ADDRESS}")
    elif not value.endswith("/"):
        problems.append(f"{VM_ADDRESS}'s mailbox '{value}' is an mbox file; the task asks for a Maildir "
                        "(virtual(8) makes a Maildir only for a name that ends in /)")
    if problems:
        return problems
    base = cfg["virtual_mailbox_base"]
    new = host.path(f"{base}/{value}") / "new"
    if new.is_dir() and any(new.iterdir()):
        return []
    refused = refusals(sc.trace, host, VM_ADDRESS)
    if refused and not deliveries(sc.trace, host, to=VM_ADDRESS):
        return [f"the configuration is right now, but the last message to {VM_ADDRESS} was refused "
                f"({refused[-1]}): send another one"]
    return [f"the configuration is right, but {base}/{value}new/ is still empty: no message has been "
            f"delivered to {VM_ADDRESS}"]


# -- make help@alias.example reach alice and erin ------------------------------------------
def _qualify(addr: str, origin: str) -> str:
    addr = addr.strip().strip("<>").lower()
    return addr if "@" in addr else f"{addr}@{origin}"


def check_virtual_alias(sc: Any) -> list[str]:
    """help@alias.example in virtual_alias_maps with alice and erin, and one message delivered to both."""
    host = _mail(sc)
    cfg = saved_config(host)
    if cfg is None:
        return ["main.cf cannot be read: run postconf -n to see the error"]
    specs = cfg.get_list("virtual_alias_maps")
    value = next((v for v in (table_lookup(host, s, ALIAS_ADDRESS) for s in specs) if v is not None), None)
    if value is None:
        if any(_source_has(host, s, ALIAS_ADDRESS) for s in specs):
            return [f"the text file of virtual_alias_maps has {ALIAS_ADDRESS}, but its indexed .db file "
                    "does not: the table was not rebuilt after the edit"]
        return [f"virtual_alias_maps ({', '.join(specs) or 'empty'}) has no entry for {ALIAS_ADDRESS}"]
    origin = cfg["myorigin"]
    targets = {_qualify(a, origin) for a in value.replace(",", " ").split()}
    missing = [t for t in ALIAS_TARGETS if t not in targets]
    extra = sorted(targets - set(ALIAS_TARGETS))
    problems = [f"{ALIAS_ADDRESS} forwards to {', '.join(sorted(targets))}: {t} is not among them" for t in missing]
    if extra:
        problems.append(f"{ALIAS_ADDRESS} also forwards to {', '.join(extra)}, who should not get this mail")
    if problems:
        return problems
    got = {str(ev.details.get("to", "")).lower() for ev in deliveries(sc.trace, host, orig_to=ALIAS_ADDRESS)
           if ev.details.get("status") == "sent"}
    if all(t in got for t in ALIAS_TARGETS):
        return []
    refused = refusals(sc.trace, host, ALIAS_ADDRESS)
    if refused and not got:
        return [f"the table is right now, but the last message to {ALIAS_ADDRESS} was refused "
                f"({refused[-1]}): send another one"]
    return [f"the table is right, but no message to {ALIAS_ADDRESS} has been delivered to "
            f"{' and '.join(t for t in ALIAS_TARGETS if t not in got)} yet"]


EXERCISES: dict[str, Exercise] = {
    "maildir": Exercise(
        "Get a message into bob's Maildir: a file must appear in /home/bob/Maildir/new/ "
        "(today local(8) appends bob's mail to the mbox file /var/mail/bob).",
        check=check_bob_maildir,
        hint="The main.cf parameter home_mailbox names the mailbox inside the user's home folder; "
             "a name ending in / means a Maildir. Change it with postconf -e, make Postfix read main.cf "
             "again, then send bob a message.",
        title="Exercise 3.3 (local delivery)"),
    "vmailbox": Exercise(
        "Make example.net a virtual mailbox domain of mail.example.com, give frank@example.net a Maildir "
        "mailbox (under virtual_mailbox_base), and deliver one message into it.",
        check=check_virtual_mailbox,
        hint="Three pieces, as for vmail.example: the domain in virtual_mailbox_domains (postconf -e, then "
             "postfix reload), a line 'frank@example.net  example.net/frank/' in /etc/postfix/vmailbox, "
             "and postmap to rebuild its .db file. Then send the message.",
        title="Exercise 3.2 (virtual mailbox)"),
    "alias": Exercise(
        "Make help@alias.example a virtual alias that forwards every message to both alice@example.com "
        "and erin@example.com, then send one message to help@alias.example.",
        check=check_virtual_alias,
        hint="Virtual aliases live in the table /etc/postfix/virtual (virtual_alias_maps): one line, the "
             "address, then its targets separated by commas. Rebuild the table with postmap; the daemons "
             "notice a rebuilt table by themselves.",
        title="Exercise 3.1 (virtual alias)"),
}

__all__ = ["ALIAS_ADDRESS", "EXERCISES", "VM_ADDRESS", "check_bob_maildir", "check_virtual_alias",
           "check_virtual_mailbox"]
