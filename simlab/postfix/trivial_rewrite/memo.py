"""NAME
    memo - remembered trivial-rewrite answers, per instance

SUMMARY
    memo = answers(ctx)          # None when answers cannot be remembered
    memo.get(key) / memo.put(key, value, warned_before)

DESCRIPTION
    resolve() and rewrite() answer the same question the same way as long as
    main.cf (the Config object), the address (and, when a
    sender_dependent_* table is set, the sender) and the tables they search
    stay the same. The answers of one instance are kept in ``ctx.shared``
    for the Config object they were computed with, and dropped as a whole
    when any file they may read changes: a table of mydestination,
    virtual_alias_domains, virtual_mailbox_domains, relay_domains,
    transport_maps, relocated_maps or the sender_dependent_* maps (the file
    stamps ctx.map() uses), or a /file/name list in a domain list.

    Nothing is remembered when a consulted table is not file based
    (unix:, ...), when the answer is a failure (flag "fail": a table could
    not be searched) or when the computation logged a warning, so every
    warning is logged again each time, as trivial-rewrite does.

PARAMETERS
    mydestination, virtual_alias_domains, virtual_mailbox_domains,
    relay_domains, transport_maps, relocated_maps,
    sender_dependent_relayhost_maps, sender_dependent_default_transport_maps.

SEE ALSO
    trivial-rewrite(8), postconf(5)
"""

from __future__ import annotations

from typing import Any

DOMAIN_LISTS = ("mydestination", "virtual_alias_domains", "virtual_mailbox_domains", "relay_domains")
TABLE_PARAMS = ("transport_maps", "relocated_maps", "sender_dependent_relayhost_maps",
                "sender_dependent_default_transport_maps")
STATIC_KINDS = ("inline", "static")
LIMIT = 8192            # answers kept per instance before starting afresh
_SHARED_KEY = "trivial-rewrite:answers"
_NO_FILES: tuple[tuple[Any, ...], tuple[Any, ...]] = ((), ())


class Answers:
    """The remembered answers for one Config object and one version of its files."""

    def __init__(self, ctx: Any, config: Any) -> None:
        self.config = config
        self.enabled = True
        self.specs: list[str] = []      # file-based table specs (proxy: stripped)
        self.files: list[str] = []      # host paths of /file/name domain lists
        self.warned = 0                 # warnings logged by trivial-rewrite so far
        self.results: dict[Any, Any] = {}
        self.stamps: Any = None
        self._collect(ctx)
        self.stamps = self.current(ctx) if self.enabled else None
        self.sender_dependent = any(config[p].strip() for p in TABLE_PARAMS[2:])

    def _spec(self, spec: str) -> None:
        inner = spec
        while inner.startswith("proxy:"):
            inner = inner[6:]
        kind, _, rest = inner.partition(":")
        if rest.startswith("/"):
            self.specs.append(inner)
        elif kind not in STATIC_KINDS:
            self.enabled = False

    def _items(self, ctx: Any, value: str, depth: int = 0) -> None:
        for item in value.replace(",", " ").split():
            body = item.lstrip("!")
            if item.startswith("/") and ":" not in item:
                self.files.append(str(ctx.path(item)))
                if depth > 20:
                    self.enabled = False
                    return
                try:
                    text = ctx.path(item).read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                for line in text.splitlines():
                    line = line.strip()
                    if line and not line.startswith("#"):
                        self._items(ctx, line, depth + 1)
            else:
                kind, sep, _ = body.partition(":")
                if sep and kind.isalnum() and not body.startswith("["):
                    self._spec(body)

    def _collect(self, ctx: Any) -> None:
        cfg = self.config
        try:
            for param in DOMAIN_LISTS:
                self._items(ctx, cfg[param])
            for param in TABLE_PARAMS:
                for spec in cfg.get_list(param):
                    self._spec(spec)
        except Exception:       # an unusual configuration: compute every answer afresh
            self.enabled = False

    def current(self, ctx: Any) -> Any:
        """The stamps of every file the answers may depend on."""
        if not self.specs and not self.files:
            return _NO_FILES
        from ..common.context import _stat_stamp
        return (tuple(ctx._map_stamp(s) for s in self.specs),
                tuple(_stat_stamp(f) for f in self.files))

    def key(self, address: str, sender: str) -> tuple[str, str]:
        return (address, sender if self.sender_dependent else "")


def answers(ctx: Any) -> Answers | None:
    """The valid answer memo of ``ctx`` (rebuilt after a reload or a file change), or None."""
    shared = getattr(ctx, "shared", None)
    if not isinstance(shared, dict):
        return None
    cfg = ctx.config
    memo = shared.get(_SHARED_KEY)
    if memo is not None and memo.config is cfg and not memo.specs and not memo.files:
        return memo if memo.enabled else None      # no file to watch: valid for this Config
    if not hasattr(ctx, "_map_stamp"):
        return None
    if memo is None or memo.config is not cfg or (memo.enabled and memo.current(ctx) != memo.stamps):
        warned = memo.warned if memo is not None else 0
        memo = shared[_SHARED_KEY] = Answers(ctx, cfg)
        memo.warned = warned
    return memo if memo.enabled else None


def note_warning(ctx: Any) -> None:
    """trivial-rewrite logged a warning: the answer being computed is not remembered."""
    shared = getattr(ctx, "shared", None)
    memo = shared.get(_SHARED_KEY) if isinstance(shared, dict) else None
    if memo is not None:
        memo.warned += 1


def remember(memo: Answers, key: Any, value: Any) -> None:
    if len(memo.results) >= LIMIT:
        memo.results.clear()
    memo.results[key] = value
