"""Postfix's queue file record format, queue ids and the queue store."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _queue_lab import lab_root, queue_file_from_postcat, ref
from simlab.postfix.commands.cmdutil import load_context
from simlab.postfix.common import records as R
from simlab.postfix.common.queue import (QueueFile, QueueStore, Recipient, decode_queue_file,
                                         encode_queue_file, format_queue_id, id_hash_source, id_inode,
                                         is_long_id, new_queue_id, queue_id_ok)


def test_record_length_is_base128_little_endian() -> None:
    assert R.encode_record("N", b"x" * 5) == b"N\x05xxxxx"
    assert R.encode_record("N", b"x" * 200)[:3] == b"N\xc8\x01"
    rec, end = R.read_record(R.encode_record("N", b"y" * 20000), 0)
    assert rec.type == "N" and len(rec.data) == 20000 and end == 20004


def test_truncated_record_is_an_error() -> None:
    with pytest.raises(R.RecordError):
        R.read_record(b"N\x05ab", 0)


def test_size_record_matches_the_reference_file() -> None:
    # postcat -q C086916052C: message_size 382 (record bytes of the content), data offset 685
    text = ref("postcat -vq C086916052C")["stdout"].replace("regular_text: ", "")
    qf = queue_file_from_postcat(text, "C086916052C", 1795527573.5)
    data = encode_queue_file(qf)
    first = R.read_record(data, 0)[0].text.split()
    assert first == ["382", "685", "1", "0", "382", "0"]
    assert qf.size == 382


def test_long_lines_become_L_records_and_come_back() -> None:
    qf = QueueFile("ABCDE123", 1795527573.25, "a@b", [Recipient("c@d")], b"H: v\n\n" + b"z" * 5000 + b"\n")
    data = encode_queue_file(qf, line_limit=2048)
    types = [r.type for r in R.iter_records(data)]
    assert types.count("L") == 2
    assert decode_queue_file(data).content == qf.content


def test_short_and_long_queue_ids() -> None:
    assert format_queue_id(1795527573.788585, 0x16052C, False) == "C086916052C"
    long_id = format_queue_id(1795527598.543410, 1443201, True)
    assert long_id == "4jYkSt3ryBzBrr3" and is_long_id(long_id)
    assert id_hash_source(long_id) == "84AB2" and id_inode(long_id) == 1443201
    assert id_inode("C086916052C") == 0x16052C and not is_long_id("C086916052C")
    assert queue_id_ok("C086916052C") and not queue_id_ok("bad/id")


def test_hash_directories(tmp_path: Path) -> None:
    ctx = load_context(lab_root(tmp_path))
    store = QueueStore(ctx)
    assert store.relpath("deferred", "C086916052C") == "deferred/C/C086916052C"
    assert store.relpath("deferred", "4jYkSt3ryBzBrr3") == "deferred/8/4jYkSt3ryBzBrr3"
    assert store.relpath("incoming", "C086916052C") == "incoming/C086916052C"


def test_new_ids_are_unique_and_reuse_free_inodes(tmp_path: Path) -> None:
    ctx = load_context(lab_root(tmp_path))
    store = QueueStore(ctx)
    a, b = new_queue_id(ctx), new_queue_id(ctx)
    assert a != b and id_inode(b) == id_inode(a) + 1
    store.write("incoming", QueueFile(a, 1795527573.0, "s@x", [Recipient("r@x")], b"x\n"))
    store.remove("incoming", a)
    c = new_queue_id(ctx)
    assert id_inode(c) == id_inode(a) and c not in (a, b)


def test_store_write_move_mark_done_remove(tmp_path: Path) -> None:
    ctx = load_context(lab_root(tmp_path))
    store = QueueStore(ctx)
    rcpts = [Recipient("alice@example.com", "alice@example.com", orcpt="rfc822;alice@example.com"),
             Recipient("bob@example.com", "bob", notify="SUCCESS,DELAY")]
    qf = QueueFile("C086916052C", 1795527573.5, "bob@example.com", rcpts, b"Subject: x\n\nbody\n",
                   {"rewrite_context": "local"})
    path = store.write("incoming", qf)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700 and not list(path.parent.glob(".*"))
    store.move("C086916052C", "incoming", "deferred")
    assert store.find("C086916052C") == "deferred"
    store.mark_done("deferred", "C086916052C", rcpts[0])
    back = store.read("deferred", "C086916052C")
    assert [r.done for r in back.recipients] == [True, False]
    assert back.recipients[1].notify == "SUCCESS,DELAY" and back.recipients[1].orig == "bob"
    assert [p.address for p in back.pending()] == ["bob@example.com"]
    assert store.set_expired("deferred", "C086916052C") and store.read("deferred", "C086916052C").forced_expire
    assert store.remove("deferred", "C086916052C") and store.find("C086916052C") is None


# -- property tests -----------------------------------------------------------------------
_addr = st.from_regex(r"[a-z0-9.+-]{1,12}@[a-z0-9-]{1,10}\.example", fullmatch=True)
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r="), max_size=40)
_line = st.binary(max_size=300).map(lambda b: b.replace(b"\n", b" "))


@st.composite
def queue_files(draw: st.DrawFn) -> QueueFile:
    n = draw(st.integers(1, 4))
    rcpts = [Recipient(draw(_addr), draw(st.one_of(st.just(""), _addr)),
                       draw(st.sampled_from(["", "SUCCESS", "FAILURE,DELAY", "NEVER"])),
                       draw(st.one_of(st.just(""), _addr.map(lambda a: "rfc822;" + a))),
                       done=draw(st.booleans()), extracted=draw(st.booleans())) for _ in range(n)]
    lines = draw(st.lists(_line, max_size=12))
    attrs = {f"attr_{i}": v.strip() for i, v in enumerate(draw(st.lists(_text, max_size=4)))}
    return QueueFile("B38E3160552", draw(st.integers(10**9, 2 * 10**9)) + draw(st.integers(0, 999999)) / 1e6,
                     draw(st.one_of(st.just(""), _addr)), rcpts, b"".join(l + b"\n" for l in lines), attrs,
                     warn_time=float(draw(st.sampled_from([0, 1795527600]))),
                     fullname=draw(_text).strip(), create_time=1795527573.0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queue_files(), st.booleans(), st.sampled_from([16, 2048]))
def test_queue_file_round_trip(qf: QueueFile, maildrop: bool, limit: int) -> None:
    data = encode_queue_file(qf, maildrop=maildrop, line_limit=limit)
    back = decode_queue_file(data, qf.qid)
    assert back.sender == qf.sender and back.content == qf.content and back.attrs == qf.attrs
    assert abs(back.arrival - qf.arrival) < 1e-6 and back.fullname == qf.fullname
    assert back.warn_time == (qf.warn_time if qf.sender else 0.0)
    assert [(r.address, r.notify, r.orcpt, r.done, r.extracted) for r in back.recipients] == \
        [(r.address, r.notify, r.orcpt, r.done, r.extracted)
         for r in [*(x for x in qf.recipients if not x.extracted), *(x for x in qf.recipients if x.extracted)]]
    for r in back.recipients:
        assert data[r.offset] == ord("D" if r.done else "R")


_awkward = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=12)


@st.composite
def written_files(draw: st.DrawFn) -> QueueFile:
    """queue_files() plus what the decoder would change: white space, '=' and envelope names in attrs."""
    qf = draw(queue_files())
    names = st.one_of(_awkward, st.sampled_from(["rewrite_context", "create_time", "log_ident", "notify_flags",
                                                  "dsn_orig_rcpt", " x", "a=b", ""]))
    if draw(st.booleans()):
        qf.attrs.update(draw(st.dictionaries(names, _awkward, max_size=3)))
    if draw(st.booleans()):
        r = qf.recipients[-1]
        r.orcpt = draw(st.sampled_from([" " + r.orcpt, r.orcpt + " "]))
        r.notify = draw(st.sampled_from([r.notify, "delay, success", "bogus", "NEVER,NEVER"]))
    qf.filter = draw(st.sampled_from(["", "smtp:[127.0.0.1]:10025"]))
    qf.warn_time = draw(st.sampled_from([0.0, 1795527600.7]))
    qf.arrival = draw(st.floats(0, 4e9))
    qf.create_time = draw(st.sampled_from([0.0, 1795527573.9]))
    return qf


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(written_files(), st.sampled_from([16, 2048]))
def test_what_the_encoder_notes_for_the_reader_is_what_the_decoder_gives(qf: QueueFile, limit: int) -> None:
    """qmgr's read of a file that cleanup just wrote takes the encoder's note instead of decoding."""
    from simlab.postfix.common import queuefile as QF
    QF._decoded.clear()
    data = encode_queue_file(qf, line_limit=limit)
    noted = QF._decoded.get(qf.qid)
    if noted is None:               # not noted: no content, or the decoder would change (or refuse) an attribute
        assert not qf.content or any(k != k.strip() or v != v.strip() or "=" in k or not k or k in QF._ENVELOPE_ATTRS
                                     for k, v in qf.attrs.items()) or any(r.orcpt != r.orcpt.strip()
                                                                          for r in qf.recipients)
        return
    QF._contents.clear()            # the decoder on its own, without the content note either
    real = QF._decode(data, qf.qid)
    assert noted[0] == data
    assert noted[1] == real and list(noted[1].attrs.items()) == list(real.attrs.items())
    assert [type(getattr(noted[1], f)) for f in vars(real)] == [type(getattr(real, f)) for f in vars(real)]
    back = decode_queue_file(data, qf.qid)      # the note is handed out as a copy
    assert back == real and back is not noted[1] and back.recipients[0] is not noted[1].recipients[0]
    back.recipients[0].done = True
    assert decode_queue_file(data, qf.qid) == real


def test_a_file_that_changed_since_it_was_written_is_decoded_again(tmp_path: Path) -> None:
    ctx = load_context(lab_root(tmp_path))
    store = QueueStore(ctx)
    rcpts = [Recipient("a@x", "a@x"), Recipient("b@x", "b@x")]
    store.write("incoming", QueueFile("AAAAB1", 1795527573.25, "s@x", rcpts, b"Subject: x\n\nbody\n"))
    store.mark_done("incoming", "AAAAB1", rcpts[0])
    assert [r.done for r in store.read("incoming", "AAAAB1").recipients] == [True, False]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_parser_never_crashes_on_garbage(data: bytes) -> None:
    try:
        decode_queue_file(data)
    except (R.RecordError, ValueError):
        pass


@settings(max_examples=100, deadline=None)
@given(queue_files(), st.integers(0, 10**6))
def test_truncated_files_are_rejected(qf: QueueFile, cut: int) -> None:
    data = encode_queue_file(qf)
    cut = cut % len(data)
    with pytest.raises((R.RecordError, ValueError)):
        decode_queue_file(data[:cut])


def test_written_files_are_atomic(tmp_path: Path) -> None:
    ctx = load_context(lab_root(tmp_path))
    store = QueueStore(ctx)
    ctx.fsync = True
    store.write("incoming", QueueFile("AAAAA1", 1795527573.0, "s@x", [Recipient("r@x")], b"x\n"))
    assert os.listdir(store.queue_dir("incoming")) == ["AAAAA1"]


def test_a_flushed_file_is_complete_and_named_when_fsync_runs(tmp_path: Path, monkeypatch) -> None:
    # One fsync covers the content, the ready mode and the final name (Postfix never fsyncs a
    # directory); enqueue() returns only after it, so smtpd's 250 follows the flush.
    import asyncio
    ctx = load_context(lab_root(tmp_path))
    store = QueueStore(ctx)
    ctx.fsync = True
    seen: list[tuple[str, int, int]] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        st = os.fstat(fd)
        seen.append((os.path.basename(os.readlink(f"/proc/self/fd/{fd}")), st.st_mode & 0o777, st.st_size))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    qf = QueueFile("AAAAA2", 1795527573.0, "s@x", [Recipient("r@x")], b"x\n")
    path = asyncio.run(store.enqueue("incoming", qf, fresh=True))
    assert seen == [("AAAAA2", 0o700, os.path.getsize(path))]
    assert os.listdir(store.queue_dir("incoming")) == ["AAAAA2"]


def test_queue_id_inodes_are_rescanned_when_another_process_removed_the_files() -> None:
    """simlab serve's delivery process removes files whose inodes the receiving one still counts."""
    from simlab.postfix.common.queueid import _InodeAllocator, id_inode
    on_disk: set[int] = set()
    alloc = _InodeAllocator(0x160000, lambda: set(on_disk))
    ids = [alloc.take(1000.0 + i / 1e6, False) for i in range(5000)]     # never released here
    assert len(set(ids)) == len(ids)
    assert max(id_inode(q) for q in ids) - 0x160000 <= 1025             # not 5000: it looked at the queue again
    full = _InodeAllocator(0x160000, lambda: set(range(0x160000, 0x160000 + 3000)))   # a queue really that full
    assert id_inode(full.take(2000.0, False)) == 0x160000 + 3000


def test_queue_id_allocator_hands_out_what_a_search_from_the_base_would() -> None:
    """The search starts above the inodes known to be in use; releases and rescans move it back."""
    import random
    from simlab.postfix.common.queueid import _InodeAllocator, format_queue_id

    def naive(alloc: _InodeAllocator, when: float) -> str:      # the lowest free inode, from base
        inode = alloc.base
        while inode in alloc.in_use or format_queue_id(when, inode, False) in alloc.issued:
            inode += 1
        return format_queue_id(when, inode, False)

    rng = random.Random(5)
    on_disk: set[int] = set()
    alloc = _InodeAllocator(0x160000, lambda: set(on_disk))
    alloc._rescan_at = 10 ** 9           # rescans are the test above's; here: releases and same-time ids
    when = 1000.0
    for _ in range(3000):
        if rng.random() < 0.3 and alloc.in_use:
            alloc.release(rng.choice(sorted(alloc.in_use)))
            continue
        when += rng.choice((0.0, 0.0, 1e-6, 0.5))           # equal times: a free inode's id may be taken
        expected = naive(alloc, when)
        assert alloc.take(when, False) == expected
    on_disk.update(range(0x160000, 0x160000 + 40))
    alloc._rescan_at = 0                                     # the next search rescans: below it is free again
    alloc.in_use.update(range(0x160000, 0x160000 + 5000))
    alloc._low = 0x160000 + 5000
    qid = alloc.take(when + 1, False)
    assert id_inode(qid) == 0x160000 + 40


def test_enqueue_under_serve_creates_names_and_flushes_in_a_worker_thread(tmp_path: Path, monkeypatch) -> None:
    # The event loop does not wait for the file system: the whole file (create, write, mode,
    # rename, fsync) is made in a worker thread, and enqueue() returns after the flush.
    import asyncio
    import threading
    ctx = load_context(lab_root(tmp_path))
    store = QueueStore(ctx)
    ctx.fsync = True
    where: dict[str, str] = {}
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(os, "replace", lambda a, b: where.setdefault("replace", threading.current_thread().name)
                        and real_replace(a, b))
    monkeypatch.setattr(os, "fsync", lambda fd: where.setdefault("fsync", threading.current_thread().name)
                        and real_fsync(fd))
    qf = QueueFile("AAAAA3", 1795527573.0, "s@x", [Recipient("r@x")], b"x\n")
    path = asyncio.run(store.enqueue("incoming", qf, fresh=True))
    main = threading.main_thread().name
    assert where["replace"] != main and where["fsync"] != main
    assert os.listdir(store.queue_dir("incoming")) == ["AAAAA3"] and os.stat(path).st_mode & 0o777 == 0o700


def test_a_finished_network_is_not_kept_alive_by_its_queue_id_allocator(tmp_path) -> None:
    import gc
    import weakref

    from simlab.postfix.common.queueid import new_queue_id
    from simlab.sim.network import Network

    def build() -> "weakref.ref[Network]":
        net = Network(seed=1, workdir=str(tmp_path))
        host = net.host("mail.example.com", ip="10.0.0.25", mta=True)
        new_queue_id(host.postfix.ctx)
        net.close()
        return weakref.ref(net)
    ref = build()
    gc.collect()
    assert ref() is None


def test_put_content_is_the_encoded_content_records() -> None:
    # short lines take put_content's joined fast path; 127/128-byte and over-limit lines do not
    for lines in ([b""], [b"a"], [b"x" * 127, b"y"], [b"x" * 128], [b"z" * 300, b""], [b"a", b"b" * 129, b"c"]):
        for end in (b"", b"\n"):
            content = b"\n".join(lines) + end
            for limit in (0, 5, 127, 128, 2048):
                out = bytearray(b"M")
                R.put_content(out, content, limit)
                expect = b"".join(R.encode_record(t, d) for t, d in R.content_records(content, limit))
                assert bytes(out) == b"M" + expect, (lines, end, limit)
