"""Property tests: table and aliases parsers never crash; postmap keys read back."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simlab.postfix.commands.postmap import postmap_records
from simlab.postfix.maps import MapError, open_map, tok822
from simlab.postfix.maps.aliases import parse_aliases
from simlab.postfix.maps.hash import DbWriter
from simlab.postfix.maps.posix_re import PosixError, compile_posix
from simlab.postfix.maps.textutil import C_SPACE

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

table_text = st.text(alphabet=st.sampled_from(list("ab@.:,/!#()[]{}\"\\$ \t\n\r\0x1$|%<>^*+?-")) | st.characters(),
                     max_size=200)


@SETTINGS
@given(text=table_text)
def test_aliases_parser_never_crashes(text: str) -> None:
    entries, warnings = parse_aliases(text, "aliases")
    for e in entries:
        assert isinstance(e.value, str) and isinstance(e.values, list)
    assert all(isinstance(w, str) for w in warnings)


@SETTINGS
@given(text=table_text, key=st.text(max_size=30))
def test_file_tables_never_crash(text: str, key: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))   # any text, even lone surrogates
        for kind in ("texthash", "regexp", "pcre", "cidr"):
            try:
                m = open_map(f"{kind}:{path}", warn=lambda msg: None, dup="warn")
            except MapError:
                continue
            value = m.lookup(key)
            assert value is None or isinstance(value, str)


@SETTINGS
@given(spec=st.text(max_size=60), key=st.text(max_size=20))
def test_inline_and_static_never_crash(spec: str, key: str) -> None:
    for kind in ("inline", "static"):
        try:
            m = open_map(f"{kind}:{spec}")
        except MapError:
            continue
        assert m.lookup(key) is None or isinstance(m.lookup(key), str)


@SETTINGS
@given(pattern=st.text(max_size=40))
def test_posix_translation_raises_only_posix_errors(pattern: str) -> None:
    try:
        compile_posix(pattern)
    except PosixError:
        pass


keys = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=C_SPACE + '"\0\\'),
               min_size=1, max_size=30).filter(lambda k: not k.startswith("#"))
values = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0\n\r"),
                 min_size=1, max_size=40).map(lambda v: v.strip(C_SPACE)).filter(bool)


@SETTINGS
@given(pairs=st.dictionaries(keys, values, min_size=1, max_size=8))
def test_postmap_key_reads_back(pairs: dict[str, str]) -> None:
    source = "".join(f"{k}\t{v}\n" for k, v in pairs.items())
    with tempfile.TemporaryDirectory() as tmp:
        name = str(Path(tmp) / "virtual")
        writer = DbWriter("hash", name, dup="ignore")
        for _line, k, v in postmap_records(source, "virtual", lambda msg: None):
            writer.put(k, v)
        writer.close()
        m = open_map(f"hash:{name}")
        first: dict[str, str] = {}
        for k, v in pairs.items():
            first.setdefault(k.casefold(), v)
        for k in pairs:
            assert m.lookup(k) == first[k.casefold()]
            assert m.lookup(k.upper()) in (first.get(k.upper().casefold()), None)
        m.close()


@SETTINGS
@given(text=st.text(max_size=80))
def test_alias_values_are_stable_when_reparsed(text: str) -> None:
    toks = tok822.scan(text)
    once = tok822.externalize(toks)
    assert tok822.externalize(tok822.scan(once)) == once
