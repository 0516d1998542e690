"""NAME
    simlab - command-line entry point (dispatch only)

SUMMARY
    simlab COMMAND [ARGS...]

DESCRIPTION
    Each command mirrors the Postfix command of the same name (same options,
    same output, same exit codes); ``init``, ``demo`` and ``serve`` are
    simlab's own. The modules named here do the work.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("simlab.commands.init", "create a host root with a working default configuration"),
    "demo": ("simlab.commands.demo", "run a demonstration scenario in the terminal"),
    "serve": ("simlab.commands.serve", "run a host's MTA, POP3 and IMAP on real loopback sockets"),
    "postconf": ("simlab.postfix.commands.postconf", "Postfix configuration utility"),
    "postmap": ("simlab.postfix.commands.postmap", "Postfix lookup table management"),
    "postalias": ("simlab.postfix.commands.postalias", "Postfix alias database maintenance"),
    "newaliases": ("simlab.postfix.commands.newaliases", "rebuild the aliases database"),
    "sendmail": ("simlab.postfix.commands.sendmail", "Postfix to Sendmail compatibility interface"),
    "postqueue": ("simlab.postfix.commands.postqueue", "Postfix queue control"),
    "mailq": ("simlab.postfix.commands.mailq", "list the mail queue"),
    "postsuper": ("simlab.postfix.commands.postsuper", "Postfix superintendent"),
    "postcat": ("simlab.postfix.commands.postcat", "show Postfix queue file contents"),
    "postfix": ("simlab.postfix.commands.postfix", "Postfix control program"),
}

USAGE = "usage: simlab COMMAND [ARGS...]\n\ncommands:\n" + "".join(
    f"  {name:<11} {desc}\n" for name, (_, desc) in COMMANDS.items()
)


def main(argv: list[str] | None = None) -> int:
    """Run ``simlab COMMAND ARGS``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        sys.stderr.write(f"simlab: unknown command: {name}\n{USAGE}")
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
