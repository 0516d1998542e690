"""NAME
    params - the table of Postfix 3.7 main.cf parameters

SUMMARY
    from simlab.postfix.config.params import PARAMS, ParamDef, service_params
    PARAMS["minimal_backoff_time"].default     # "300s"
    PARAMS["minimal_backoff_time"].kind        # "time"
    PARAMS["minimal_backoff_time"].component   # "qmgr"

DESCRIPTION
    The built-in parameters and their default text come from
    simlab/data/postconf-d.txt, a capture of ``postconf -d`` on the reference
    machine (Postfix 3.7.11). Per-transport parameters that postconf(1)
    derives from master.cf ("relay_destination_concurrency_limit" ...) are
    removed from that list at import and generated again from the services
    of the master.cf at hand (service_params()).

    Each ParamDef also carries:
    kind       bool, int, size, time, list or str (inferred from the default
               value and the name, as postconf(5) documents them)
    unit       the default time unit of a time parameter (s, m, h, d, w)
    component  the simlab program that honours the parameter, or
               "accepted, no effect" when simlab parses it but ignores it
    raw        the value is not $name-expanded when read (postconf -x too)
    readonly   postconf ignores main.cf settings (process_id, process_name)

    Host-dependent defaults (myhostname, mydomain, mynetworks, process_id)
    are computed by simlab.postfix.config.hostfacts; the table keeps the
    reference machine's text for them.

    See postconf(5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

NO_EFFECT = "accepted, no effect"

# Per-transport parameter suffixes and the parameter that supplies their
# default (postconf_service.c); _time_limit exists only for pipe and spawn.
SERVICE_SUFFIXES: dict[str, str] = {
    "_time_limit": "command_time_limit",
    "_recipient_limit": "default_recipient_limit",
    "_extra_recipient_limit": "default_extra_recipient_limit",
    "_recipient_refill_limit": "default_recipient_refill_limit",
    "_recipient_refill_delay": "default_recipient_refill_delay",
    "_delivery_slot_cost": "default_delivery_slot_cost",
    "_delivery_slot_loan": "default_delivery_slot_loan",
    "_delivery_slot_discount": "default_delivery_slot_discount",
    "_minimum_delivery_slots": "default_minimum_delivery_slots",
    "_initial_destination_concurrency": "initial_destination_concurrency",
    "_destination_concurrency_limit": "default_destination_concurrency_limit",
    "_destination_recipient_limit": "default_destination_recipient_limit",
    "_destination_concurrency_positive_feedback":
        "default_destination_concurrency_positive_feedback",
    "_destination_concurrency_negative_feedback":
        "default_destination_concurrency_negative_feedback",
    "_destination_concurrency_failed_cohort_limit":
        "default_destination_concurrency_failed_cohort_limit",
    "_destination_rate_delay": "default_destination_rate_delay",
    "_transport_rate_delay": "default_transport_rate_delay",
}
_DELIVERY = [s for s in SERVICE_SUFFIXES if s != "_time_limit"]
SERVICE_PROGRAMS: dict[str, list[str]] = {
    "local": _DELIVERY, "error": _DELIVERY, "virtual": _DELIVERY,
    "smtp": _DELIVERY, "lmtp": _DELIVERY,
    "pipe": ["_time_limit", *_DELIVERY], "spawn": ["_time_limit"],
}

# Values that programs expand later with their own attributes ($home, $rbl_code ...).
RAW_PARAMS = frozenset({
    "command_execution_directory", "forward_path", "mailbox_command", "luser_relay",
    "default_rbl_reply", "smtpd_expansion_filter", "smtpd_reject_footer",
    "postscreen_reject_footer", "postscreen_expansion_filter",
    "postscreen_command_time_limit",
})
READONLY_PARAMS = frozenset({"process_id", "process_name"})
# Old names that defaults still mention for compatibility; never shown unless set.
LEGACY_PARAMS = frozenset({
    "virtual_maps", "fallback_relay", "authorized_verp_clients",
    "smtpd_client_connection_limit_exceptions", "postscreen_whitelist_interfaces",
    "postscreen_blacklist_action", "postscreen_dnsbl_whitelist_threshold",
    "postscreen_dnsbl_ttl", "lmtp_per_record_deadline", "smtp_per_record_deadline",
    "smtpd_per_record_deadline", "tlsproxy_client_policy", "tlsproxy_client_level",
})
# Built-ins whose names look like service parameters but have their own default.
_BUILTIN_LOOKALIKES = frozenset({
    "local_destination_concurrency_limit", "local_destination_recipient_limit",
})

_SIZE_PARAMS = frozenset({
    "message_size_limit", "mailbox_size_limit", "virtual_mailbox_limit",
    "header_size_limit", "queue_minfree", "body_checks_size_limit",
    "bounce_size_limit", "line_length_limit", "smtpd_recipient_overshoot_limit",
})
_LIST_SUFFIXES = ("_maps", "_restrictions", "_domains", "_networks", "_interfaces",
                  "_checks", "_classes", "_clients", "_exceptions", "_filter_classes",
                  "_keywords", "_protocols", "_commands", "_environment", "_lookups")
_LIST_NAMES = frozenset({
    "mydestination", "mynetworks", "inet_interfaces", "inet_protocols",
    "proxy_interfaces", "alias_database", "import_environment", "export_environment",
    "smtpd_milters", "non_smtpd_milters", "notify_classes", "debug_peer_list",
    "authorized_submit_users", "authorized_mailq_users", "authorized_flush_users",
    "mailbox_transport_maps", "relay_recipient_maps",
})

# (name prefix or exact name, component); the first match wins.
_COMPONENTS: list[tuple[str, str]] = [
    ("smtpd_tls", NO_EFFECT), ("smtpd_sasl", NO_EFFECT), ("smtpd_milter", NO_EFFECT),
    ("smtp_tls", NO_EFFECT), ("smtp_sasl", NO_EFFECT), ("lmtp_tls", NO_EFFECT),
    ("lmtp_sasl", NO_EFFECT), ("tls", NO_EFFECT), ("postscreen", NO_EFFECT),
    ("tlsproxy", NO_EFFECT), ("milter", NO_EFFECT), ("non_smtpd_milters", NO_EFFECT),
    ("dnsblog", NO_EFFECT), ("postlog", NO_EFFECT), ("multi_instance", NO_EFFECT),
    ("smtpd_", "smtpd"), ("local_header_rewrite_clients", "cleanup"),
    ("strict_rfc821_envelopes", "smtpd"), ("disable_vrfy_command", "smtpd"),
    ("mynetworks", "smtpd"), ("smtputf8_enable", "smtpd"), ("message_size_limit", "smtpd"),
    ("line_length_limit", "smtpd"), ("relay_domains", "trivial-rewrite"),
    ("permit_mx_backup_networks", "smtpd"), ("unknown_", "smtpd"),
    ("smtp_", "smtp"), ("lmtp_", "lmtp"),
    ("alias_", "local"), ("forward_path", "local"), ("mailbox_", "local"),
    ("home_mailbox", "local"), ("mail_spool_directory", "local"), ("luser_relay", "local"),
    ("local_", "local"), ("recipient_delimiter", "local"), ("biff", "local"),
    ("prepend_delivered_header", "local"), ("command_", "local"), ("allow_mail_to_", "local"),
    ("expand_owner_alias", "local"), ("owner_request_special", "local"),
    ("virtual_mailbox", "virtual"), ("virtual_uid_maps", "virtual"),
    ("virtual_gid_maps", "virtual"), ("virtual_minimum_uid", "virtual"),
    ("virtual_transport", "trivial-rewrite"), ("virtual_alias_domains", "trivial-rewrite"),
    ("virtual_alias_maps", "cleanup"), ("virtual_", "virtual"),
    ("myorigin", "trivial-rewrite"), ("mydestination", "trivial-rewrite"),
    ("mydomain", "trivial-rewrite"), ("myhostname", "smtpd"),
    ("append_", "trivial-rewrite"), ("swap_bangpath", "trivial-rewrite"),
    ("allow_percent_hack", "trivial-rewrite"), ("transport_maps", "trivial-rewrite"),
    ("default_transport", "trivial-rewrite"), ("relay_transport", "trivial-rewrite"),
    ("local_transport", "trivial-rewrite"), ("relayhost", "trivial-rewrite"),
    ("empty_address_", "trivial-rewrite"), ("resolve_", "trivial-rewrite"),
    ("canonical_", "cleanup"), ("sender_canonical", "cleanup"),
    ("recipient_canonical", "cleanup"), ("header_", "cleanup"), ("body_checks", "cleanup"),
    ("hopcount_limit", "cleanup"), ("always_add_missing_headers", "cleanup"),
    ("always_bcc", "cleanup"), ("sender_bcc_maps", "cleanup"),
    ("recipient_bcc_maps", "cleanup"), ("cleanup_", "cleanup"),
    ("enable_original_recipient", "cleanup"), ("masquerade_", "cleanup"),
    ("queue_", "qmgr"), ("qmgr_", "qmgr"), ("minimal_backoff_time", "qmgr"),
    ("maximal_backoff_time", "qmgr"), ("maximal_queue_lifetime", "qmgr"),
    ("bounce_queue_lifetime", "qmgr"), ("delay_warning_time", "qmgr"),
    ("default_destination_", "qmgr"), ("default_delivery_slot", "qmgr"),
    ("default_recipient", "qmgr"), ("default_extra_recipient", "qmgr"),
    ("default_minimum_delivery", "qmgr"), ("initial_destination_concurrency", "qmgr"),
    ("default_transport_rate_delay", "qmgr"), ("transport_retry_time", "qmgr"),
    ("bounce_", "bounce"), ("notify_classes", "bounce"), ("double_bounce_sender", "bounce"),
    ("2bounce_notice_recipient", "bounce"), ("delay_notice_recipient", "bounce"),
    ("error_notice_recipient", "bounce"), ("mail_name", "bounce"),
    ("pipe_", "pipe"), ("default_privs", "pipe"),
    ("pickup_", "pickup"), ("sendmail_", "sendmail"), ("authorized_submit_users", "sendmail"),
    ("enable_long_queue_ids", "cleanup"), ("maillog_file", "postlogd"),
    ("syslog_name", "master"), ("default_process_limit", "master"),
    ("inet_interfaces", "master"), ("inet_protocols", "master"),
    ("master_service_disable", "master"), ("service_", "master"),
    ("config_directory", "postconf"), ("compatibility_level", "postconf"),
    ("mail_version", "postconf"), ("process_", "postconf"),
]

_TIME_RE = re.compile(r"(?:^\d+|\})([smhdw])$")
_STRESS_INT_RE = re.compile(r"^\$\{stress\?\{\d+\}:\{\d+\}\}$")


@dataclass(frozen=True)
class ParamDef:
    """One built-in or service-defined main.cf parameter."""

    name: str
    default: str
    kind: str
    unit: str
    component: str
    raw: bool = False
    readonly: bool = False
    service: bool = False


def _service_lookalike(name: str, default: str) -> bool:
    if name in _BUILTIN_LOOKALIKES:
        return False
    for suffix, source in SERVICE_SUFFIXES.items():
        if name.endswith(suffix) and name != source and default == "$" + source:
            return True
    return False


def _kind(name: str, default: str, defaults: dict[str, str]) -> tuple[str, str]:
    seen: set[str] = set()
    text = default
    while text.startswith("$") and re.fullmatch(r"\$\w+", text) and text[1:] in defaults \
            and text[1:] not in seen:
        seen.add(text[1:])
        text = defaults[text[1:]]
    if text in ("yes", "no"):
        return "bool", ""
    match = _TIME_RE.search(text)
    if match and ((text[:-1].isascii() and text[:-1].isdigit()) or text.startswith("${")):
        return "time", match.group(1)
    if name.endswith(("_time", "_timeout", "_delay", "_time_limit")):
        return "time", "s"
    if name in _SIZE_PARAMS:
        return "size", ""
    if (text.isascii() and text.isdigit()) or _STRESS_INT_RE.match(text):
        return "int", ""
    if name in _LIST_NAMES or name.endswith(_LIST_SUFFIXES):
        return "list", ""
    return "str", ""


def component_of(name: str) -> str:
    """The simlab program that honours parameter ``name``."""
    for prefix, component in _COMPONENTS:
        if name.startswith(prefix):
            return component
    for suffix, _source in SERVICE_SUFFIXES.items():
        if name.endswith(suffix):
            return "qmgr"
    return NO_EFFECT


def _load() -> dict[str, ParamDef]:
    text = (Path(__file__).resolve().parents[2] / "data" / "postconf-d.txt").read_text("utf-8")
    defaults: dict[str, str] = {}
    for line in text.splitlines():
        name, _sep, value = line.partition(" =")
        defaults[name] = value[1:]
    table: dict[str, ParamDef] = {}
    for name, default in defaults.items():
        if _service_lookalike(name, default):
            continue
        kind, unit = _kind(name, default, defaults)
        table[name] = ParamDef(name, default, kind, unit, component_of(name),
                               raw=name in RAW_PARAMS, readonly=name in READONLY_PARAMS)
    return table


PARAMS: dict[str, ParamDef] = _load()


def service_params(service: str, program: str) -> list[ParamDef]:
    """The per-transport parameters a master.cf service with ``program`` defines."""
    result = []
    for suffix in SERVICE_PROGRAMS.get(program, ()):
        source = SERVICE_SUFFIXES[suffix]
        base = PARAMS[source]
        component = "pipe" if suffix == "_time_limit" else "qmgr"
        result.append(ParamDef(service + suffix, "$" + source, base.kind, base.unit,
                               component, service=True))
    return result

