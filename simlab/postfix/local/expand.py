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

from functools import lru_cache
from typing import Any

from ..config.expand import MAC_PARSE_ERROR, MAC_PARSE_UNDEF, mac_expand
from .state import Attr, LocalState, UserAttr

EXTENSION_MATCHED = 1 << 8
PARSE_ERROR = MAC_PARSE_ERROR
PARSE_UNDEF = MAC_PARSE_UNDEF


def local_expand(state: LocalState, attr: Attr, usr: UserAttr, pattern: str,
                 filter_chars: str | None) -> tuple[str, int]:
    return _expand(pattern, filter_chars or None, attr.user, usr.home, usr.shell, attr.rcpt.address,
                   attr.extension, attr.domain, attr.local, state.cfg["recipient_delimiter"] or None)


@lru_cache(maxsize=512)
def _expand(pattern: str, filter_chars: str | None, user: str, home: str | None, shell: str | None,
            recipient: str, extension: str | None, domain: str, local: str,
            delimiter: str | None) -> tuple[str, int]:
    # memo: forward_path is expanded for every delivery; the result depends only on these values
    allowed = set(filter_chars) if filter_chars else None
    matched = [False]
    values: dict[str, Any] = {
        "user": user, "home": home, "shell": shell, "recipient": recipient, "extension": extension,
        "domain": domain, "local": local, "recipient_delimiter": delimiter,
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
