"""pcre: is a plugin type on Debian: a host has it once postfix-pcre registered it in dynamicmaps.cf.d.

Measured on Debian 12's Postfix 3.7.11 without postfix-pcre (the reference machine): postmap -q
with pcre: says "unsupported dictionary type: pcre" and postconf -m does not list pcre.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from simlab.postfix.commands.postconf import main as postconf_main
from simlab.postfix.maps import MapError, open_map
from simlab.postfix.maps.dynamic import dynamic_types, install_plugin
from simlab.sim.rootfs import init_root


def _postconf_m(root: Path) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert postconf_main(["--root", str(root), "-m"]) == 0
    return out.getvalue().splitlines()


def test_a_host_without_the_plugin_has_no_pcre_tables(tmp_path: Path) -> None:
    root = init_root(tmp_path / "mx", "mail.example.com")
    (root / "etc/postfix/checks").write_text("/^a/ REJECT\n")
    with pytest.raises(MapError, match=r"^unsupported dictionary type: pcre$"):
        open_map("pcre:/etc/postfix/checks", root=root)
    assert "pcre" not in _postconf_m(root)
    assert open_map("regexp:/etc/postfix/checks", root=root).lookup("abc") == "REJECT"


def test_installing_the_plugin_brings_pcre_in(tmp_path: Path) -> None:
    root = init_root(tmp_path / "mx", "mail.example.com")
    (root / "etc/postfix/checks").write_text("/^a/ REJECT\n")
    path = install_plugin(root, "pcre")
    assert path == root / "etc/postfix/dynamicmaps.cf.d/pcre.cf"
    assert dynamic_types(root) == {"pcre"}
    assert open_map("pcre:/etc/postfix/checks", root=root).lookup("abc") == "REJECT"
    listed = _postconf_m(root)
    assert "pcre" in listed and listed == sorted(listed)


def test_a_comment_in_dynamicmaps_cf_names_no_type(tmp_path: Path) -> None:
    conf = tmp_path / "etc/postfix/dynamicmaps.cf"
    conf.parent.mkdir(parents=True)
    conf.write_text("# dict-type\tso-name (pathname)\tdict-function\tmkmap-function\n")
    assert dynamic_types(tmp_path) == set()
    conf.write_text(conf.read_text() + "pcre\tpostfix-pcre.so.1.0.1\tdict_pcre_open\n")
    assert dynamic_types(tmp_path) == {"pcre"}
