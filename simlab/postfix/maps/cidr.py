"""
NAME
    cidr - cidr: tables (cidr_table(5)) matching IPv4/IPv6 client addresses

SUMMARY
    CidrMap(name, root=None, warn=None)

DESCRIPTION
    Each rule is "network/mask result", "address result" or "[ipv6]/mask
    result"; the first matching rule wins. "!pattern" negates, "if pattern"
    ... "endif" encloses rules that apply only inside a network. A network
    with host bits set is rejected ('non-null host address bits in
    "10.1.2.3/8", perhaps you should use "10.0.0.0/8" instead'), like other
    malformed rules: "cidr map FILE, line N: ...: skipping this rule". A key
    that is not an IP address matches nothing. As with regexp:, the name
    may also be inline rules in braces (Postfix 3.7).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from .base import FileMap, Warn
from .regexp import open_rules
from .textutil import C_SPACE, readllines

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_net(pattern: str) -> tuple[Net, bool] | str:
    """Parse [!]addr[/len]; returns (network, match) or the reason it is bad."""
    match = True
    while pattern.startswith("!"):
        match = not match
        pattern = pattern[1:]
    if not pattern:
        return "no pattern"
    mask_search = pattern
    if pattern.startswith("["):
        pattern = pattern[1:]
        if "]" not in pattern:
            return f"missing ']' character after \"[{pattern}\""
        pattern, after = pattern.split("]", 1)
        if after and not after.startswith("/"):
            return f'garbage after "[{pattern}]"'
        mask_search = pattern + after
    cls = ipaddress.IPv6Address if ":" in pattern else ipaddress.IPv4Address
    if "/" in mask_search:
        addr, mask = mask_search.split("/", 1)
        bits = 128 if cls is ipaddress.IPv6Address else 32
        if not (mask.isascii() and mask.isdigit()):
            return f'bad mask value in "{addr}/{mask}"'
        if int(mask) > bits:
            return f'bad mask length in "{addr}/{mask}"'
        try:
            host = cls(addr)
        except ValueError:
            return f'bad network value in "{addr}/{mask}"'
        try:
            return ipaddress.ip_network(f"{host}/{int(mask)}", strict=True), match
        except ValueError:
            net = ipaddress.ip_network(f"{host}/{int(mask)}", strict=False)
            return (f'non-null host address bits in "{addr}/{mask}", '
                    f'perhaps you should use "{net.network_address}/{int(mask)}" instead')
    try:
        return ipaddress.ip_network(cls(mask_search)), match
    except ValueError:
        return f'bad address pattern: "{mask_search}"'


class CidrMap(FileMap):
    type = "cidr"
    fixed = False

    def __init__(self, name: str, *, root: Path | str | None = None,
                 warn: Warn | None = None, **_: object) -> None:
        super().__init__(name, root=root, fold=False, warn=warn)
        data = open_rules("cidr", name, root, self)
        self.rules: list[list] = []   # [op, net, match, value, endif index]
        stack: list[list] = []
        for lineno, _last, line in readllines(data, name, self.warn):
            why = self._parse(line, stack, lineno)
            if why:
                self.warn(f"cidr map {name}, line {lineno}: {why}: skipping this rule")
        for rule in stack:
            self.warn(f"cidr map {name}, line {rule[5]}: IF has no matching ENDIF")

    def _parse(self, line: str, stack: list[list], lineno: int) -> str | None:
        head = line.split(None, 1)[0] if line.split() else ""
        rest = line[len(head):].strip(C_SPACE)
        word = head.lower()
        if word == "endif":
            if rest:
                return "garbage after ENDIF"
            if not stack:
                return "ENDIF without IF"
            stack.pop()[4] = len(self.rules)
            self.rules.append(["endif", None, True, None, None, 0])
            return None
        if word == "if":
            if not rest:
                return "no address pattern"
            got = _parse_net(rest)
            if isinstance(got, str):
                return got
            rule = ["if", got[0], got[1], None, None, lineno]
            stack.append(rule)
            self.rules.append(rule)
            return None
        if not head:
            return "no address pattern"
        if not rest:
            return "no lookup result"
        got = _parse_net(head)
        if isinstance(got, str):
            return got
        self.rules.append(["match", got[0], got[1], rest, None, 0])
        return None

    def lookup(self, key: str) -> str | None:
        try:
            addr = ipaddress.ip_address(key)
        except ValueError:
            return None
        i = 0
        while i < len(self.rules):
            op, net, match, value, endif, _ = self.rules[i]
            if op == "match":
                if net.version == addr.version and (addr in net) == match:
                    return value
            elif op == "if":
                if not (net.version == addr.version and (addr in net) == match):
                    if endif is None:
                        return None
                    i = endif
            i += 1
        return None
