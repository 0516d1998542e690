"""The Config API other simlab programs use (load_config, typed getters, services)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from simlab.postfix.config import (PARAMS, Config, ConfigError, HostFacts, load_config,
                                   read_master_cf)

LAB = Path(__file__).parent / "data" / "postconf" / "lab"


@pytest.fixture()
def lab() -> Config:
    return load_config(LAB)


def write(folder: Path, text: str) -> Path:
    (folder / "main.cf").write_text(text)
    return folder


def test_lab_values(lab: Config) -> None:
    assert lab["myorigin"] == "example.com"
    assert lab.raw("myorigin") == "$mydomain"
    assert lab["mydestination"] == "mail.example.com, localhost.example.com, localhost, example.com"
    assert lab.get_list("mydestination") == ["mail.example.com", "localhost.example.com",
                                             "localhost", "example.com"]
    assert lab["smtpd_banner"] == "mail.example.com ESMTP Postfix"
    assert lab["relay_domains"].startswith("relay.example")
    assert lab.get_bool("biff") is False and lab.get_bool("smtputf8_enable") is True
    assert lab.get_int("smtpd_hard_error_limit") == 20
    assert lab.get_size("message_size_limit") == 10240000
    assert lab.get_time("minimal_backoff_time") == 5.0
    assert lab.get_time("delay_warning_time") == 0.0
    assert lab.get_time("maximal_queue_lifetime") == 5 * 86400
    assert lab.is_set("relayhost") and not lab.is_set("myorigin_nosuch") and not lab.is_set("biff_x")
    assert lab["relayhost"] == ""
    assert lab.line_of("mydomain") == 4


def test_unknown_names_and_user_defined_names(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "lab_x = 1\nmyhostname = h.$lab_x\n"))
    assert cfg["lab_x"] == "1" and cfg["myhostname"] == "h.1"
    with pytest.raises(KeyError):
        cfg["nosuch_parameter"]
    assert "lab_x" in cfg and "nosuch_parameter" not in cfg
    assert cfg["relay_destination_concurrency_limit"] == "20"
    assert cfg["nosuch_transport_destination_recipient_limit"] == "50"


def test_default_time_units_follow_the_parameter(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "delay_warning_time = 4\nminimal_backoff_time = 2m\n"
                            "queue_run_delay = 1w\nbad_time_x = 3q\n"))
    assert cfg.get_time("delay_warning_time") == 4 * 3600
    assert cfg.get_time("minimal_backoff_time") == 120
    assert cfg.get_time("queue_run_delay") == 7 * 86400
    assert cfg.get_time("relay_destination_rate_delay") == 0
    with pytest.raises(ConfigError, match="bad time value or unit: 3q"):
        cfg.get_time("bad_time_x")


def test_conversion_errors_use_postfix_messages(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "biff = maybe\nsmtpd_recipient_limit = 10x\n"))
    with pytest.raises(ConfigError, match="bad boolean configuration: biff = maybe"):
        cfg.get_bool("biff")
    with pytest.raises(ConfigError, match="bad numerical configuration: smtpd_recipient_limit"):
        cfg.get_int("smtpd_recipient_limit")


def test_raw_parameters_are_not_expanded(lab: Config) -> None:
    assert lab["forward_path"] == "$home/.forward${recipient_delimiter}${extension}, $home/.forward"


def test_host_facts_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "inet_protocols = ipv4\n"),
                      facts=HostFacts(hostname="mail.example.com"))
    assert (cfg["myhostname"], cfg["mydomain"], cfg["myorigin"]) == \
        ("mail.example.com", "example.com", "mail.example.com")
    assert cfg["mynetworks_style"] == "subnet"
    assert cfg["mynetworks"] == "127.0.0.0/8 192.0.2.0/24"
    host = cfg.clone(compatibility_level="3.6", inet_protocols="all")
    assert host["mynetworks"] == "127.0.0.1/32 192.0.2.10/32 [::1]/128 [fd00::10]/128 [fe80::10]/128"
    short = load_config(write(tmp_path, "mydomain = example.org\n"), facts=HostFacts("box"))
    assert short["myhostname"] == "box.example.org"
    assert load_config(write(tmp_path, ""), facts=HostFacts("box"))["myhostname"] == \
        "box.localdomain"
    assert HostFacts(process_id=7).pid == 7
    assert load_config(write(tmp_path, "")).default("myhostname") == "vm.localdomain"


def test_clone_is_a_new_immutable_config(lab: Config) -> None:
    other = lab.clone(myhostname="other.example", biff=True, smtpd_recipient_limit=3)
    assert other["mydestination"].startswith("other.example")
    assert other.get_bool("biff") and other.get_int("smtpd_recipient_limit") == 3
    assert lab["myhostname"] == "mail.example.com"
    with pytest.raises(KeyError):
        lab.clone(no_such_parameter="x")


def test_for_service_applies_overrides_and_service_name(lab: Config) -> None:
    services = {s.key: s for s in read_master_cf(LAB)}
    outside = lab.for_service(services["127.0.0.1:2525/inet"])
    assert outside["mynetworks"] == "127.0.0.2/32" and lab["mynetworks"] == "127.0.0.0/8"
    assert outside.get_bool("disable_vrfy_command") and outside.is_set("mynetworks")
    assert outside.service is services["127.0.0.1:2525/inet"]
    assert lab.for_service(services["relay/unix"])["syslog_name"] == "postfix/relay"
    limits = lab.for_service(services["127.0.0.1:2527/inet"])
    assert limits.get_time("smtpd_error_sleep_time") == 0 and limits.get_size("message_size_limit") == 4096


def test_warnings_and_fatal_errors(tmp_path: Path) -> None:
    warnings: list[str] = []
    load_config(write(tmp_path, " x = 1\na = 1\na = 2\n"), warn=warnings.append,
                display_dir="/etc/postfix")
    assert warnings == ['/etc/postfix/main.cf: logical line must not start with whitespace: " x = 1"',
                        "/etc/postfix/main.cf, line 3: overriding earlier entry: a=1"]
    with pytest.raises(ConfigError, match="line 1: missing '='"):
        load_config(write(tmp_path, "garbage\n"))
    with pytest.raises(ConfigError, match="open .*main.cf: No such file or directory"):
        load_config(tmp_path / "nowhere")
    loop = load_config(write(tmp_path, "a = $b\nb = $a\n"), warn=warnings.append)
    with pytest.raises(ConfigError, match="macro processing error"):
        loop["a"]
    assert warnings[-1].startswith("unreasonable macro call nesting")


def test_services_property_and_iteration(tmp_path: Path) -> None:
    for name in ("main.cf", "master.cf"):
        shutil.copy(LAB / name, tmp_path / name)
    cfg = load_config(tmp_path)
    assert [s.name for s in cfg.services][:2] == ["smtp", "127.0.0.1:2525"]
    names = list(cfg)
    assert len(names) == len(cfg) >= len(PARAMS)
    assert dict(cfg.settings())["compatibility_level"] == "3.6"


def test_param_table() -> None:
    assert len(PARAMS) == 831
    assert PARAMS["minimal_backoff_time"].kind == "time" and PARAMS["minimal_backoff_time"].unit == "s"
    assert PARAMS["delay_warning_time"].unit == "h"
    assert PARAMS["biff"].kind == "bool" and PARAMS["mydestination"].kind == "list"
    assert PARAMS["smtpd_banner"].component == "smtpd"
    assert PARAMS["smtpd_tls_security_level"].component == "accepted, no effect"
    assert PARAMS["forward_path"].raw and PARAMS["process_id"].readonly
    assert "relay_destination_concurrency_limit" not in PARAMS
