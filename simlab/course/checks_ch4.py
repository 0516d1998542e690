"""NAME
    checks_ch4 - the automatic checks of chapter 4's exercises (configuration and administration)

SUMMARY
    from simlab.course.checks_ch4 import EXERCISES, BROKEN_MAIN_CF
    EXERCISES["fqdn"].check(sc)           # sc: the tour scenario, with mail.newco.example added
    check_sandbox_main_cf(sc) -> []       # or the list of what is still wrong

DESCRIPTION
    Chapter 4 adds the machine mail.newco.example to the tour network and
    configures it step by step; a second machine, sandbox.example.com
    (Postfix not started), holds main.cf files to try postconf on. Each
    check reads the outcome from those machines: main.cf as saved and as
    the running Postfix uses it, postconf's own output and warnings,
    /etc/aliases and its indexed database, trivial-rewrite's answer and the
    trace (deliveries, refused recipients). A problem says what is wrong,
    never how to write the fix.

        fqdn      give mail.newco.example its fully qualified myhostname back, and have the
                  running Postfix use it
        alias     make sales@newco.example reach dan through /etc/aliases (newaliases)
        domain    make mail.newco.example also the final destination of newco.org, keeping
                  its other domains (postconf -e, postfix reload)
        sandbox   repair BROKEN_MAIN_CF on sandbox.example.com: no postconf warning, and
                  myhostname / myorigin with the intended values

SEE ALSO
    simlab.course.exercise, simlab.course.labtools, postconf(1), newaliases(1)
"""

from __future__ import annotations

from typing import Any

from .exercise import Exercise
from .labtools import deliveries, refusals, run_command, saved_config, table_lookup

NEWCO = "mail.newco.example"
SANDBOX = "sandbox.example.com"
SECOND_DOMAIN = "newco.org"
ALIAS_ADDRESS = "sales@newco.example"
ALIAS_TARGET = "dan"
BROKEN_MAIN_CF = """\
# main.cf of mail.newco.example, written in a hurry
myhostname = mail.newco.example   # the new mail server
mydomain = newco.example
myorigin = $mydomian
mydestination = $myhostname, localhost.$mydomain,
localhost, $mydomain
"""
SANDBOX_WANTED = {"myhostname": "mail.newco.example", "myorigin": "newco.example",
                  "mydestination": "mail.newco.example, localhost.newco.example, localhost, newco.example"}


def _host(sc: Any, name: str) -> Any:
    host = sc.net.hosts.get(name)
    if host is None:
        raise LookupError(f"the network has no machine {name}: run the cells that build it first")
    return host


# -- a fully qualified myhostname ----------------------------------------------------------
def check_fqdn(sc: Any) -> list[str]:
    """myhostname of mail.newco.example is its FQDN, in main.cf and in the running Postfix."""
    host = _host(sc, NEWCO)
    cfg = saved_config(host)
    if cfg is None:
        return ["main.cf cannot be read: run postconf -n to see the error"]
    saved = cfg["myhostname"]
    if "." not in saved.strip("."):
        return [f"myhostname is '{saved}': a name without its domain is not fully qualified"]
    if saved.lower().rstrip(".") != host.name:
        return [f"myhostname is '{saved}': fully qualified, but not this machine's name "
                "(look in /etc/hostname)"]
    live = host.postfix.ctx.config["myhostname"]
    if live != saved:
        return [f"main.cf says myhostname = {saved}, but the running Postfix still calls itself '{live}': "
                "it has not read main.cf again"]
    return []


# -- sales@newco.example -> dan via /etc/aliases -----------------------------------------------
def _alias_lines(text: str) -> dict[str, str]:
    """name -> value of an aliases(5) text (continuation lines joined)."""
    out: dict[str, str] = {}
    name = ""
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace() and name:
            out[name] += " " + raw.strip()
            continue
        key, sep, value = raw.partition(":")
        if sep:
            name = key.strip().strip('"').lower()
            out[name] = value.strip()
    return out


def check_alias(sc: Any) -> list[str]:
    """sales in /etc/aliases and in aliases.db, pointing to dan; a message delivered to dan."""
    host = _host(sc, NEWCO)
    local = ALIAS_ADDRESS.split("@")[0]
    text = host.path("/etc/aliases").read_text() if host.path("/etc/aliases").exists() else ""
    entry = _alias_lines(text).get(local)
    if entry is None:
        return [f"/etc/aliases has no entry for {local}"]
    if ALIAS_TARGET not in entry.replace(",", " ").split():
        return [f"/etc/aliases sends {local} to '{entry}', which does not include {ALIAS_TARGET}"]
    cfg = saved_config(host)
    spec = cfg["alias_maps"].replace(",", " ").split()[0] if cfg is not None else "hash:/etc/aliases"
    value = table_lookup(host, spec, local)
    if value is None:
        return [f"/etc/aliases has {local}, but the database that Postfix reads ({spec}, the .db file) does "
                "not: the indexed copy is older than your edit"]
    if ALIAS_TARGET not in value.replace(",", " ").split():
        return [f"the aliases database still sends {local} to '{value}': it is older than your last edit"]
    sent = [ev for ev in deliveries(sc.trace, host, orig_to=ALIAS_ADDRESS) if ev.details.get("status") == "sent"
            and str(ev.details.get("to", "")).split("@")[0] == ALIAS_TARGET]
    if sent:
        return []
    refused = refusals(sc.trace, host, ALIAS_ADDRESS)
    if refused:
        return [f"the alias is right now, but the last message to {ALIAS_ADDRESS} was refused "
                f"({refused[-1]}): send another one"]
    return [f"the alias is right, but no message to {ALIAS_ADDRESS} has reached {ALIAS_TARGET} yet"]


# -- newco.org as a second local domain -------------------------------------------------------
def _expanded(cfg: Any, name: str) -> list[str]:
    return [d.lower().rstrip(".") for d in cfg.get_list(name)]


def check_second_domain(sc: Any) -> list[str]:
    """newco.org in mydestination (with the four domains it had), in the running Postfix too."""
    from ..postfix.trivial_rewrite import resolve
    host = _host(sc, NEWCO)
    cfg = saved_config(host)
    if cfg is None:
        return ["main.cf cannot be read: run postconf -n to see the error"]
    domains = _expanded(cfg, "mydestination")
    problems = []
    if SECOND_DOMAIN not in domains:
        problems.append(f"{SECOND_DOMAIN} is not among the local domains in main.cf "
                        f"(mydestination expands to: {', '.join(domains) or 'nothing'})")
    myhostname, mydomain = cfg["myhostname"].lower(), cfg["mydomain"].lower()
    keep = [myhostname, f"localhost.{mydomain}", "localhost", mydomain]
    lost = [d for d in keep if d not in domains]
    if lost:
        problems.append(f"mydestination no longer contains {', '.join(lost)}: mail for "
                        f"{'it' if len(lost) == 1 else 'them'} would now be refused")
    if problems:
        return problems
    live = resolve(host.postfix.ctx, f"dan@{SECOND_DOMAIN}")
    if live.cls != "local":
        return [f"main.cf is right, but the running Postfix still puts dan@{SECOND_DOMAIN} in the class "
                f"'{live.cls}': it has not read main.cf again"]
    return []


# -- repair a broken main.cf -------------------------------------------------------------------
def check_sandbox_main_cf(sc: Any) -> list[str]:
    """postconf -n on sandbox.example.com: exit 0, no warning, and the intended values."""
    host = _host(sc, SANDBOX)
    listed = run_command(host, "postconf -n")
    if listed.rc != 0:
        return [f"postconf cannot read main.cf: {listed.stderr.strip()}"]
    problems = [f"postconf still warns: {w}" for w in dict.fromkeys(listed.stderr.splitlines()) if w.strip()]
    raw = run_command(host, "postconf -h myhostname").stdout.strip()
    if "#" in raw:
        problems.append(f"myhostname's value is '{raw}': postconf reads everything after '=' as the value")
    for name, want in SANDBOX_WANTED.items():
        got = run_command(host, f"postconf -xh {name}").stdout.strip()
        if got != want and not ("#" in raw and "#" in got):
            problems.append(f"{name} expands to '{got}', not to '{want}'")
    return problems


EXERCISES: dict[str, Exercise] = {
    "fqdn": Exercise(
        "mail.newco.example now calls itself just 'mail'. Give it back its fully qualified name, "
        "so that postfix check stops complaining, and make the running Postfix use it.",
        check=check_fqdn,
        hint="postconf -e changes one parameter in main.cf; the machine's full name is in /etc/hostname. "
             "A running Postfix reads main.cf again only when told to.",
        title="Exercise 4.1 (myhostname)"),
    "alias": Exercise(
        "Make mail for sales@newco.example reach dan, with a line in /etc/aliases, then send a message to "
        "sales@newco.example from alice's client.",
        check=check_alias,
        hint="An aliases line looks like 'sales: dan'. Postfix never reads /etc/aliases itself: it reads the "
             "indexed copy /etc/aliases.db, which one command rebuilds.",
        title="Exercise 4.2 (aliases)"),
    "domain": Exercise(
        "The company also bought newco.org. Make mail.newco.example the final destination for newco.org "
        "too (dan@newco.org must be a local address), without losing the domains it already serves.",
        check=check_second_domain,
        hint="Look at postconf mydestination first: postconf -e replaces the whole value, so write the old "
             "list plus the new domain. Then postfix reload.",
        title="Exercise 4.3 (postconf -e and reload)"),
    "sandbox": Exercise(
        "The main.cf on sandbox.example.com (printed above) was written in a hurry. Repair it so that "
        "postconf -n prints no warning, myhostname is mail.newco.example, myorigin expands to newco.example "
        "and mydestination to its four domains.",
        check=check_sandbox_main_cf,
        hint="Three of the notes' rules are broken: where a comment may be, what a line that starts "
             "without white space means, and the spelling of a $name. Run postconf -n after each fix.",
        title="Exercise 4.4 (main.cf syntax)"),
}

__all__ = ["ALIAS_ADDRESS", "BROKEN_MAIN_CF", "EXERCISES", "NEWCO", "SANDBOX", "SECOND_DOMAIN",
           "check_alias", "check_fqdn", "check_sandbox_main_cf", "check_second_domain"]
