"""smtpd's per-Config settings: remembered per Config object, new values after a reload."""

from __future__ import annotations

from simlab.postfix.config.config import Config
from simlab.postfix.smtpd.recipients import _sender_dependent
from simlab.postfix.smtpd.settings import settings_for


def test_derived_values_follow_the_config_object():
    calls = []

    def count(settings):
        calls.append(settings)
        return settings.text("myhostname")

    a = Config({"myhostname": "a.example"})
    assert settings_for(a).derived("name", count) == "a.example"
    assert settings_for(a).derived("name", count) == "a.example"
    assert len(calls) == 1
    b = Config({"myhostname": "b.example"})       # a reload: a new Config
    assert settings_for(b).derived("name", count) == "b.example"
    assert len(calls) == 2


def test_sender_dependent_is_decided_per_config():
    assert _sender_dependent(Config({})) is False
    assert _sender_dependent(Config({"sender_dependent_relayhost_maps": "inline:{a=b}"})) is True
    assert _sender_dependent(Config({"sender_dependent_default_transport_maps": " "})) is False


def test_a_name_read_with_other_defaults_gets_each_default():
    # the by-name memo of int/bool/words must not hand one call site's default to another
    s = settings_for(Config({"smtpd_banner": "x"}))
    for _ in range(2):
        assert s.int("no_such_int_parameter", 10) == 10
        assert s.int("no_such_int_parameter", 20) == 20
        assert s.bool("no_such_bool_parameter", True) is True
        assert s.bool("no_such_bool_parameter", False) is False
        assert s.words("no_such_list_parameter", "a b") == ("a", "b")
        assert s.words("no_such_list_parameter") == ()
