"""NAME
    errors - the exception for fatal configuration problems

SUMMARY
    raise ConfigError("./main.cf, line 3: missing '=' after attribute name: ...")

DESCRIPTION
    ConfigError carries the text that Postfix prints after "fatal: " for
    the same problem, so that commands can print it unchanged.

    See postconf(1).
"""

from __future__ import annotations


class ConfigError(Exception):
    """A main.cf or master.cf problem on which Postfix would stop (msg_fatal)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
