"""NAME
    rootfs - a simulated host's root folder, laid out like a Unix system

SUMMARY
    init_root(root, hostname="mail.example.com", users=["alice", "bob"])
    accounts(root)   -> list[PasswdEntry]   (the lines of ROOT/etc/passwd)
    read_passwd(path) -> {name: PasswdEntry}  (getpwnam()'s view of a passwd file)

DESCRIPTION
    A host is a Unix machine in a folder (design principle 3): its accounts
    are the lines of ROOT/etc/passwd, its Postfix reads ROOT/etc/postfix, its
    queue is ROOT/var/spool/postfix and its mail lands in ROOT/var/mail.
    ``init_root`` writes what a Debian installation of Postfix leaves behind:
    the ``postfix`` pseudo-account and the ``postdrop`` group, main.cf and
    master.cf, /etc/aliases with postmaster, the spool folders, home folders,
    and Dovecot's passwd-file (``NAME:{PLAIN}NAME-pw``) for the store.
    ``read_passwd`` is the one passwd parser: Postfix's context, the
    scenarios and the Dovecot-like store all read accounts through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

SPOOL_DIRS = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt",
              "bounce", "defer", "trace", "flush", "saved", "pid", "public", "private")

SYSTEM_ACCOUNTS = [
    "root:x:0:0:root:/root:/bin/bash",
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
    "bin:x:2:2:bin:/bin:/usr/sbin/nologin",
    "sys:x:3:3:sys:/dev:/usr/sbin/nologin",
    "mail:x:8:8:mail:/var/mail:/usr/sbin/nologin",
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    "postfix:x:101:104::/var/spool/postfix:/usr/sbin/nologin",
    "dovecot:x:102:105:Dovecot mail server,,,:/usr/lib/dovecot:/usr/sbin/nologin",
    "dovenull:x:103:106:Dovecot login user,,,:/nonexistent:/usr/sbin/nologin",
]
SYSTEM_GROUPS = [
    "root:x:0:", "daemon:x:1:", "bin:x:2:", "sys:x:3:", "mail:x:8:", "users:x:100:",
    "postfix:x:104:", "postdrop:x:105:", "dovecot:x:106:", "dovenull:x:107:", "nogroup:x:65534:",
]

MAIN_CF = """\
# See /usr/share/postfix/main.cf.dist for a commented, more complete version

smtpd_banner = $myhostname ESMTP $mail_name
biff = no

# appending .domain is the MUA's job.
append_dot_mydomain = no

compatibility_level = 3.6

myhostname = {hostname}
mydomain = {domain}
myorigin = $mydomain
mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain
relayhost =
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = all
inet_protocols = ipv4
maillog_file = /var/log/mail.log
"""


@dataclass(frozen=True)
class PasswdEntry:
    """One account: a line of /etc/passwd."""

    name: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str

    @property
    def can_login(self) -> bool:
        return not self.shell.endswith(("nologin", "false"))


def read_passwd(path: Path) -> dict[str, PasswdEntry]:
    """Parse a Unix passwd file; malformed lines are skipped as getpwnam() does (first entry wins)."""
    out: dict[str, PasswdEntry] = {}
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return out
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 7:
            continue
        try:
            uid, gid = int(parts[2]), int(parts[3])
        except ValueError:
            continue
        out.setdefault(parts[0], PasswdEntry(parts[0], uid, gid, parts[4], parts[5], parts[6]))
    return out


def accounts(root: Path) -> list[PasswdEntry]:
    """The accounts of the host whose root folder is ``root``, in file order."""
    return list(read_passwd(Path(root) / "etc/passwd").values())


def default_master_cf() -> str:
    return resources.files("simlab").joinpath("data/master.cf").read_text()


def init_root(root: str | Path, hostname: str = "mail.example.com", domain: str | None = None,
              users: list[str] | tuple[str, ...] = ("alice", "bob"), *, overwrite: bool = False) -> Path:
    """Lay out a host root with a working default Postfix configuration.

    Existing files are kept unless ``overwrite``: running it twice is harmless.
    """
    root = Path(root)
    domain = domain or (hostname.split(".", 1)[1] if "." in hostname else "localdomain")

    def write(rel: str, text: str) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if overwrite or not p.exists():
            p.write_text(text)

    passwd = list(SYSTEM_ACCOUNTS)
    for i, user in enumerate(users):
        passwd.append(f"{user}:x:{1000 + i}:{1000 + i}:{user.capitalize()},,,:/home/{user}:/bin/bash")
        (root / "home" / user).mkdir(parents=True, exist_ok=True)
    groups = list(SYSTEM_GROUPS) + [f"{u}:x:{1000 + i}:" for i, u in enumerate(users)]
    write("etc/passwd", "\n".join(passwd) + "\n")
    write("etc/group", "\n".join(groups) + "\n")
    write("etc/hostname", hostname + "\n")
    write("etc/mailname", hostname + "\n")
    write("etc/postfix/main.cf", MAIN_CF.format(hostname=hostname, domain=domain))
    write("etc/postfix/master.cf", default_master_cf())
    first = users[0] if users else "root"
    write("etc/aliases", f"# See man 5 aliases for format\npostmaster:    root\nroot:          {first}\n")
    write("etc/dovecot/users", "".join(f"{u}:{{PLAIN}}{u}-pw\n" for u in users))
    for d in SPOOL_DIRS:
        (root / "var/spool/postfix" / d).mkdir(parents=True, exist_ok=True)
    for d in ("var/mail", "var/log", "usr/sbin", "usr/local/bin"):
        (root / d).mkdir(parents=True, exist_ok=True)
    if overwrite or not (root / "etc/aliases.db").exists():
        build_aliases(root)
    return root


def build_aliases(root: Path) -> str:
    """``newaliases`` for this root; returns what it printed (warnings)."""
    import io

    from ..postfix.commands import newaliases
    out = io.StringIO()
    newaliases.main(["--root", str(root)], stdout=out, stderr=out)
    return out.getvalue()
