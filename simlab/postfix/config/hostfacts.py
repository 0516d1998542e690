"""NAME
    hostfacts - the machine facts behind Postfix's computed defaults

SUMMARY
    facts = HostFacts(hostname="mail.example.com")
    default_myhostname(facts, mydomain_setting)
    default_mydomain(myhostname)
    default_mynetworks(facts, style, inet_interfaces, inet_protocols)

DESCRIPTION
    Postfix derives a few defaults from the machine instead of from
    main.cf: myhostname (the host name, with ".$mydomain" or ".localdomain"
    appended when it has no dot), mydomain (myhostname minus its first
    label, "localdomain" when there is no dot), mynetworks (the networks of
    the interfaces named by inet_interfaces, per mynetworks_style "host",
    "subnet" or "class") and process_id.

    HostFacts() describes the reference machine of the capture: host name
    "vm" (so myhostname is vm.localdomain, or vm.$mydomain when main.cf
    sets mydomain), interfaces 127.0.0.1/8, 192.0.2.10/24, ::1/128,
    fd00::10/64 and fe80::10/64, so that ``postconf -d`` reproduces it.

    See postconf(5): myhostname, mydomain, mynetworks, mynetworks_style.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

DEF_MYDOMAIN = "localdomain"
DEFAULT_INTERFACES = ("127.0.0.1/8", "192.0.2.10/24", "::1/128", "fd00::10/64", "fe80::10/64")


@dataclass(frozen=True)
class HostFacts:
    """What the simulated machine tells Postfix about itself."""

    hostname: str = "vm"
    interfaces: tuple[str, ...] = DEFAULT_INTERFACES
    process_id: int | None = None
    process_name: str = "postconf"

    @property
    def myhostname(self) -> str:
        """myhostname's default when main.cf sets neither myhostname nor mydomain."""
        return default_myhostname(self, None)

    @property
    def mydomain(self) -> str:
        """mydomain's default when main.cf sets neither myhostname nor mydomain."""
        return default_mydomain(self.myhostname)

    @property
    def pid(self) -> int:
        """The process id Postfix would report (the real one unless fixed)."""
        return os.getpid() if self.process_id is None else self.process_id


def default_myhostname(facts: HostFacts, mydomain_setting: str | None) -> str:
    """myhostname when main.cf does not set it (mydomain_setting: main.cf's, expanded)."""
    name = facts.hostname
    if "." not in name:
        name = f"{name}.{mydomain_setting if mydomain_setting is not None else DEF_MYDOMAIN}"
    return name


def default_mydomain(myhostname: str) -> str:
    """mydomain when main.cf does not set it."""
    dot = myhostname.find(".")
    return DEF_MYDOMAIN if dot < 0 else myhostname[dot + 1:]


def _selected(facts: HostFacts, inet_interfaces: str, inet_protocols: str) -> list:
    protocols = {p.lower() for p in inet_protocols.replace(",", " ").split()}
    want4 = bool(protocols & {"all", "ipv4"})
    want6 = bool(protocols & {"all", "ipv6"})
    ifaces = [ipaddress.ip_interface(text) for text in facts.interfaces]
    names = [n.lower() for n in inet_interfaces.replace(",", " ").split()]
    if not names or "all" in names:
        chosen = ifaces
    elif "loopback-only" in names:
        chosen = [i for i in ifaces if i.ip.is_loopback]
    else:
        chosen = []
        for text in names:
            try:
                addr = ipaddress.ip_address(text.strip("[]"))
            except ValueError:
                continue
            match = [i for i in ifaces if i.ip == addr]
            chosen.append(match[0] if match else ipaddress.ip_interface(addr))
    return [i for i in chosen if (i.version == 4 and want4) or (i.version == 6 and want6)]


def default_mynetworks(facts: HostFacts, style: str, inet_interfaces: str,
                       inet_protocols: str) -> str:
    """The mynetworks default for this machine, in Postfix's output format."""
    style = style.strip().lower()
    words: list[str] = []
    for iface in _selected(facts, inet_interfaces, inet_protocols):
        if iface.version == 4:
            if style == "host":
                prefix = 32
            elif style == "class":
                first = int(iface.ip) >> 24
                prefix = 8 if first < 128 else 16 if first < 192 else 24 if first < 224 else 4
            else:
                prefix = iface.network.prefixlen
            net = ipaddress.ip_network(f"{iface.ip}/{prefix}", strict=False)
            words.append(f"{net.network_address}/{prefix}")
        else:
            prefix = 128 if style == "host" else iface.network.prefixlen
            net = ipaddress.ip_network(f"{iface.ip}/{prefix}", strict=False)
            words.append(f"[{net.network_address}]/{prefix}")
    seen: list[str] = []
    for word in words:
        if word not in seen:
            seen.append(word)
    return " ".join(seen)
