"""NAME
    dynamic - lookup table types that Debian ships as plugin packages

SUMMARY
    dynamic_types(root) -> set[str]      # the plugin types this host has installed
    install_plugin(root, "pcre")         # what `apt install postfix-pcre` does

DESCRIPTION
    Debian builds some of Postfix's table types as plugins: a type exists on
    a machine only when its package (postfix-pcre for pcre:) has put a line
    "type  library.so  dict-function" into /etc/postfix/dynamicmaps.cf or a
    file into /etc/postfix/dynamicmaps.cf.d/. Without it, every program says
    "unsupported dictionary type: pcre" and postconf -m does not list it;
    that is what the reference machine shows (measured on 3.7.11).

    simlab implements pcre: and treats it the same way on a simulated host:
    a host whose root lists it has it. A table opened without a host root
    (a library call) keeps every type simlab implements.

SEE ALSO
    postconf(1) -m, DATABASE_README, Debian's postfix-pcre package
"""

from __future__ import annotations

from pathlib import Path

# type -> its dynamicmaps.cf line, as Debian 12's postfix-pcre installs it
PLUGINS = {"pcre": "pcre\tpostfix-pcre.so.1.0.1\tdict_pcre_open"}
DYNAMICMAPS = "etc/postfix/dynamicmaps.cf"


def dynamic_types(root: Path | str) -> set[str]:
    """The types named by the host's dynamicmaps.cf and dynamicmaps.cf.d/*.cf."""
    base = Path(root) / DYNAMICMAPS
    files = [base, *sorted(base.with_name("dynamicmaps.cf.d").glob("*.cf"))]
    found: set[str] = set()
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            if words and not words[0].startswith("#"):
                found.add(words[0])
    return found


def install_plugin(root: Path | str, name: str) -> Path:
    """Register plugin ``name`` on the host as its Debian package does; returns the file written."""
    path = Path(root) / DYNAMICMAPS
    path = path.with_name("dynamicmaps.cf.d") / f"{name}.cf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PLUGINS[name] + "\n")
    return path
