"""book/check_offline.py (the browser test of the built book) finds frame panels in a page's saved widget
state: their controls and the PNG of every frame. Checked here without a browser, on an embedded panel."""
import hashlib
import importlib.util
import itertools
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from ipywidgets.embed import embed_minimal_html  # noqa: E402

from vdib_core.widgets import figure_png, frame_panel  # noqa: E402

spec = importlib.util.spec_from_file_location("check_offline", Path(__file__).parents[1] / "book" / "check_offline.py")
check_offline = sys.modules["check_offline"] = importlib.util.module_from_spec(spec)  # dataclasses need it there
spec.loader.exec_module(check_offline)


def png_of(k: int) -> bytes:
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, k])
    png = figure_png(fig)
    plt.close(fig)
    return png


def test_saved_panels_reads_controls_and_frames(tmp_path):
    values = [[0.1, 1.0, 10.0], ["linear", "mlp"], ["a", "b", "c", "d", "e"]]
    points = list(itertools.product(*values))
    frames = {p: png_of(i) for i, p in enumerate(points) if p != (1.0, "mlp", "c")}  # one point missing
    panel = frame_panel(frames, [("τ", values[0]), ("decoder", values[1]), ("x", values[2])], initial=(1.0, "mlp", "a"))
    hidden = frame_panel({(0,): png_of(99)}, [("k", [0, 1])])  # in the saved state, but never displayed
    page = tmp_path / "page.html"
    embed_minimal_html(page, views=[panel])  # saves the state of every widget, and one view
    (saved,) = check_offline.saved_panels(page.read_text())
    pid = next(c for c in panel._dom_classes if c.startswith("vdib-panel-")).removeprefix("vdib-panel-")
    assert saved.pid == pid and f"vdib-panel-{saved.pid}" not in hidden._dom_classes
    assert [(c.kind, c.labels, c.index) for c in saved.controls] == [
        ("slider", ["0.1", "1", "10"], 1), ("toggle", ["linear", "mlp"], 1), ("dropdown", list("abcde"), 0)]
    assert len(saved.frames) == len(points)  # the placeholder too
    for idx in itertools.product(*(range(len(v)) for v in values)):
        point = tuple(v[i] for v, i in zip(values, idx))
        assert saved.frames[idx] == hashlib.sha256(bytes(panel.images[point].value)).hexdigest()


def test_pipe_table_text_finds_tables_shown_as_text():
    # what a markdown table rendered as CommonMark looks like in a page: its lines as text
    shown = "| decoder | δ | time − rate |\n|---|---|---|\n| mlp | 0 | 12 ± 3 |"
    assert check_offline.pipe_table_text(shown) == ["|---|---|---|"]
    assert check_offline.pipe_table_text("| a | b |\n| :--- | ---: |\n| 1 | 2 |") == ["| :--- | ---: |"]
    assert check_offline.pipe_table_text("|---|") == ["|---|"]
    # a rendered table leaves only its cells' text; a bar or a dash in prose is not a table
    assert check_offline.pipe_table_text("decoder\tδ\ttime − rate\nmlp\t0\t12 ± 3") == []
    assert check_offline.pipe_table_text("|x| = 3 -- and |y| --- not a table") == []
