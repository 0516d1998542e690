"""Layout of the chapter-3 figures: labels that never overlap, full texts in the address table, flat queue curves."""

from __future__ import annotations

from matplotlib.transforms import Bbox

from simlab.viz import address_class_figure, inside_postfix, queue_figure, queue_series
from simlab.viz.inside_postfix import EDGES
from test_viz_traces import Script, deferral

H = "mail.example.com"


def _inside(fig, box: Bbox) -> bool:
    frame = fig.bbox
    return frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1


def retrying(n: int = 6) -> Script:
    """A message that fails at once at every retry: deferred -> active -> deferred at one virtual time."""
    s = Script()
    s.queue(H, "R0R0R0R001", "", "incoming")
    s.queue(H, "R0R0R0R001", "incoming", "active", dt=0)
    s.queue(H, "R0R0R0R001", "active", "deferred", dt=0)
    s.queue(H, "S0S0S0S002", "", "incoming", dt=30)
    s.queue(H, "S0S0S0S002", "incoming", "active", dt=0)
    s.queue(H, "S0S0S0S002", "active", "deferred", dt=0)
    for _ in range(n):
        for qid in ("R0R0R0R001", "S0S0S0S002"):
            s.queue(H, qid, "deferred", "active", dt=60 if qid.startswith("R") else 0)
            s.queue(H, qid, "active", "deferred", dt=0)
    return s


# -- inside postfix: edge labels -----------------------------------------------------------------
def _edge_label_boxes(fig) -> dict[str, Bbox]:
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    return {t.get_gid()[10:]: t.get_window_extent(r) for t in fig.axes[0].texts
            if (t.get_gid() or "").startswith("edgelabel-")}


def test_try_later_and_retry_labels_do_not_overlap_each_other_or_boxes() -> None:
    s = deferral()
    for fig in (inside_postfix(s.trace, H), inside_postfix(s.trace, H, "D0D0D0D001")):
        r = fig.canvas.get_renderer()
        labels = _edge_label_boxes(fig)
        assert set(labels) >= {"active-deferred", "deferred-active"}
        later, retry = labels["active-deferred"], labels["deferred-active"]
        assert not later.overlaps(retry)
        assert later.x1 < retry.x0                       # one on each side of the pair of arrows
        nodes = [p.get_window_extent(r) for p in fig.axes[0].patches if (p.get_gid() or "").startswith("node-")]
        texts = [t.get_window_extent(r) for t in fig.axes[0].texts if not (t.get_gid() or "").startswith("edgelabel-")]
        for name, box in labels.items():
            assert _inside(fig, box), name
            assert not any(box.overlaps(n) for n in nodes), name
            assert not any(box.overlaps(t) for t in texts), name
        others = list(labels.items())
        for i, (a, ba) in enumerate(others):
            for b, bb in others[i + 1:]:
                assert not ba.overlaps(bb), (a, b)


def test_a_highlighted_path_keeps_its_edge_labels() -> None:
    fig = inside_postfix(deferral().trace, H, "D0D0D0D001")
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    assert texts["edgelabel-active-deferred"] == "try later" and texts["edgelabel-deferred-active"] == "retry"
    assert {f"edgelabel-{a}-{b}" for a, b, label in EDGES if label} <= set(texts)


# -- address classes: nothing cut -----------------------------------------------------------------
WHY = ("gmail.example is in no address class list (mydestination, virtual_alias_domains, "
       "virtual_mailbox_domains, relay_domains); default_transport = error:no outbound in this lab")


def records(n: int) -> list[dict[str, str]]:
    base = [
        ("alice@example.com", "local", "local", "mail.example.com",
         "example.com is local: mydestination contains example.com; local_transport = local:mail.example.com"),
        ("sales@alias.example", "virtual_alias", "error", "5.1.1 User unknown in virtual alias table",
         "virtual_alias_domains contains alias.example; only addresses listed in virtual_alias_maps exist there"),
        ("x@relay.example", "relay", "smtp", "[127.0.0.1]:2526",
         "relay_domains contains relay.example; relay_transport = relay; "
         "transport_maps: relay.example -> smtp:[127.0.0.1]:2526"),
        ("anyone@gmail.example", "default", "error", "no outbound in this lab", WHY),
        ("a.very.long.local.part.that.keeps.going@sub.sub.sub.sub.relay.example", "relay", "relay",
         "sub.sub.sub.sub.relay.example.with.a.long.next.hop.name", "relay_domains contains relay.example"),
        ("carol@vmail.example", "virtual_mailbox", "virtual", "vmail.example",
         "virtual_mailbox_domains contains vmail.example; virtual_transport = virtual"),
    ]
    return [dict(zip(("address", "cls", "transport", "nexthop", "why"), base[i % len(base)])) for i in range(n)]


def _flat(text: str) -> str:
    return "".join(text.split())


def test_address_figure_wraps_long_texts_and_grows_rows_instead_of_cutting() -> None:
    for n in (5, 12):
        recs = records(n)
        fig = address_class_figure(recs, title="Address classes on mail.example.com: what trivial-rewrite answers")
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        cells = fig.axes[0].tables[0].get_celld()
        for i, rec in enumerate(recs, 1):
            for col, key in enumerate(("address", "cls", "transport", "nexthop", "why")):
                shown = cells[(i, col)].get_text().get_text()
                assert "…" not in shown
                assert _flat(shown) == _flat(rec[key].replace("_", " ") if key == "cls" else rec[key])
                text_box = cells[(i, col)].get_text().get_window_extent(r)
                cell_box = cells[(i, col)].get_window_extent(r)
                assert cell_box.x0 <= text_box.x0 and text_box.x1 <= cell_box.x1, (n, i, key, shown)
                assert cell_box.y0 <= text_box.y0 and text_box.y1 <= cell_box.y1, (n, i, key, shown)
        why = cells[(4, 4)].get_text().get_text()
        assert why.count("\n") >= 1 and why.splitlines()[-1] == "default_transport = error:no outbound in this lab"
        assert cells[(4, 4)].get_height() > cells[(1, 4)].get_height()           # three lines against two
        rows = [cells[(i, 0)].get_window_extent(r) for i in range(len(recs) + 1)]
        for above, below in zip(rows, rows[1:]):
            assert below.y1 <= above.y0 + 0.5                      # rows stack, none covers another
        everything = [t for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_window_extent"))
                      if t.get_visible() and t.get_text()]
        for t in everything:
            assert _inside(fig, t.get_window_extent(r)), t.get_text()
        legend = fig.legends[0].get_window_extent(r)
        assert legend.y1 <= rows[-1].y0 and fig._suptitle.get_window_extent(r).y0 >= rows[0].y1


# -- queues: one point per instant ----------------------------------------------------------------
def test_queue_counts_change_only_between_instants() -> None:
    series = queue_series(retrying().trace, H)
    assert series["deferred"] == [(0.0, 0), (0.001, 1), (30.001, 2)]
    assert series["active"] == [(0.0, 0)] and series["incoming"] == [(0.0, 0)]
    fig = queue_figure(retrying().trace, H)
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "queue-deferred")
    ys = list(line.get_ydata())
    assert ys == sorted(ys) and min(ys[1:]) >= 1              # no drop to 0 at the retries: no comb
    assert len(next(ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "retries").get_xdata()) == 12
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "incoming queue", "active queue", "deferred queue", "retry: deferred → active"]


def test_a_queue_that_holds_mail_between_instants_still_shows_it() -> None:
    s = deferral()                       # moves one step apart: every count is visible
    series = queue_series(s.trace, H)
    assert [n for _, n in series["active"]][:4] == [0, 1, 0, 1]
    assert max(n for _, n in series["deferred"]) == 1 and series["hold"][-1][1] == 1
