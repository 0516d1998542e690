"""NAME
    expand - $name expansion of forward_path, mailbox_command and luser_relay (local_expand)

SUMMARY
    text, status = local_expand(state, attr, usr, "$home/.forward${recipient_delimiter}${extension}",
                                filter_chars)
    status & EXTENSION_MATCHED

DESCRIPTION
    These parameters are expanded per recipient with $user (the recipient
    name without extension), $home and $shell (from /etc/passwd),
    $recipient (the whole address), $extension, $domain, $local (the whole
    local part) and $recipient_delimiter; ${name?text} and ${name:text}
    work as in main.cf. A name without a value is undefined (an undefined
    $extension makes a forward_path entry unusable). Characters of a
    value that are not in the filter become "_".

PARAMETERS
    forward_expansion_filter, command_expansion_filter, recipient_delimiter.

SEE ALSO
    local(8), postconf(5) forward_path
"""

from __future__ import annotations

from typing import Any

from ..config.expand import MAC_PARSE_ERROR, MAC_PARSE_UNDEF, mac_expand
from .state import Attr, LocalState, UserAttr

EXTENSION_MATCHED = 1 << 8
PARSE_ERROR = MAC_PARSE_ERROR
PARSE_UNDEF = MAC_PARSE_UNDEF


def local_expand(state: LocalState, attr: Attr, usr: UserAttr, pattern: str,
                 filter_chars: str | None) -> tuple[str, int]:
    allowed = set(filter_chars) if filter_chars else None
    matched = [False]
    values: dict[str, Any] = {
        "user": attr.user, "home": usr.home, "shell": usr.shell,
        "recipient": attr.rcpt.address, "extension": attr.extension, "domain": attr.domain,
        "local": attr.local, "recipient_delimiter": state.cfg["recipient_delimiter"] or None,
    }

    def lookup(name: str, _mode: int) -> str | None:
        value = values.get(name)
        if value is None or value == "":
            return None
        if name == "extension":
            matched[0] = True
        if allowed is not None:
            value = "".join(c if c in allowed else "_" for c in value)
        return value

    text, status = mac_expand(pattern, 0, lookup, lambda _m: None)
    if matched[0]:
        status |= EXTENSION_MATCHED
    return text, status
