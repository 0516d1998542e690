"""NAME
    quota - per-user storage limits of the message store (Dovecot's quota plugin)

SUMMARY
    quota = Quota(users_file, default="", usage=lambda user: 1234)
    quota.set("erin", "10k"); quota.set("erin", None)     # a lesson's limit / back to the rules
    quota.limit("erin")            # bytes, or None for no limit
    quota.over("erin")             # already full? (STATUS_CHECK_OVER_QUOTA)
    quota.check("erin", size)      # None, or QUOTA_EXCEEDED when SIZE more bytes do not fit

DESCRIPTION
    A user's limit is, in this order: the one set on the store with
    ``set`` (how a lesson makes a mailbox full; ``limits`` is that dict),
    the user's quota rule in the passwd-file users file (the userdb extra
    field of Dovecot's passwd-file format, e.g.
    ``erin:{PLAIN}erin-pw::::::userdb_quota_rule=*:storage=10M``), and the
    default rule given to the store (Dovecot's ``quota_rule``; empty means
    no limit). A limit of 0 means no limit, as in Dovecot.

    Sizes are bytes with an optional suffix b, k, M, G or T (powers of
    1024). Only the storage rule is enforced; a messages= rule is ignored.

    Usage is what the ``usage`` callable reports (the store counts the
    bytes of the user's mail files). A mailbox is over quota when its usage
    has reached the limit; a message fits when usage + its size stays
    within the limit. The error text is Dovecot's quota_exceeded_message
    default: "Quota exceeded (mailbox for user is full)".

PARAMETERS
    quota_rule, userdb_quota_rule (passwd-file extra field),
    quota_exceeded_message.

SEE ALSO
    Dovecot Quota, Quota/Configuration, AuthDatabase/PasswdFile
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from .users import PasswdFile

QUOTA_EXCEEDED = "Quota exceeded (mailbox for user is full)"
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
_SIZE = re.compile(r"^\s*(\d+)\s*([bBkKmMgGtT]?)\s*$")


def parse_size(text: str | int | None) -> int | None:
    """'10M' -> 10485760; None or '' -> None; raises ValueError on other text."""
    if text is None or text == "":
        return None
    if isinstance(text, int):
        return text
    m = _SIZE.match(text)
    if m is None:
        raise ValueError(f"invalid quota size: {text}")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def rule_storage(rule: str) -> int | None:
    """The storage limit of a quota rule ('*:storage=10M' or 'storage=10M'), None when absent."""
    _, _, body = rule.rpartition(":") if ":" in rule else ("", "", rule)
    for part in body.split():
        key, _, value = part.partition("=")
        if key.lower() == "storage":
            return parse_size(value)
    return None


class Quota:
    """The limits of one store's users (see the module documentation)."""

    def __init__(self, users_file: str | Path | None = None, default: str = "",
                 usage: Callable[[str], int] | None = None,
                 limits: dict[str, str | int | None] | None = None) -> None:
        self.passdb = PasswdFile(users_file) if users_file is not None else None
        self.default = rule_storage(default) if default else None
        self.usage = usage
        self.limits: dict[str, int | None] = {}
        for user, value in (limits or {}).items():
            self.set(user, value)

    def set(self, user: str, limit: str | int | None) -> int | None:
        """Set (or, with None, remove) the store's own limit for USER; returns the old one."""
        old = self.limits.get(user.lower())
        if limit is None:
            self.limits.pop(user.lower(), None)
        else:
            self.limits[user.lower()] = parse_size(limit)
        return old

    def _userdb_limit(self, user: str) -> int | None:
        entry = self.passdb.lookup(user) if self.passdb is not None else None
        if entry is None:
            return None
        for field in entry.extra.split():
            key, _, value = field.partition("=")
            if key in ("userdb_quota_rule", "quota_rule"):
                return rule_storage(value)
        return None

    def limit(self, user: str) -> int | None:
        if user.lower() in self.limits:
            found = self.limits[user.lower()]
        else:
            found = self._userdb_limit(user)
            if found is None:
                found = self.default
        return found or None

    def used(self, user: str) -> int:
        return self.usage(user) if self.usage is not None else 0

    def over(self, user: str) -> bool:
        limit = self.limit(user)
        return limit is not None and self.used(user) >= limit

    def check(self, user: str, size: int) -> str | None:
        limit = self.limit(user)
        if limit is not None and self.used(user) + size > limit:
            return QUOTA_EXCEEDED
        return None
