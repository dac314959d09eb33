"""Kernel-free frame slider and frame panel: structure, the client-side links, placeholders, bad input,
the live "train this point now" button."""
import itertools
import re
from pathlib import Path

import ipywidgets as widgets
from ipywidgets.widgets.widget_link import Link
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from vdib_core.widgets import PNG_SIGNATURE, figure_png, frame_panel, frame_slider  # noqa: E402


def small_figure(k: int):
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, k])
    return fig


def test_frame_slider_structure_and_link():
    frames = {f"k={k}": small_figure(k) for k in range(3)}
    extra = small_figure(9)
    frames["png"] = figure_png(extra)
    plt.close(extra)
    box = frame_slider(frames, "$k$")
    slider, stack = box.children
    assert isinstance(box, widgets.VBox) and len(box.children) == 2
    assert isinstance(slider, widgets.SelectionSlider) and list(slider.options) == list(frames)
    assert isinstance(stack, widgets.Stack) and len(stack.children) == 4
    assert all(isinstance(im, widgets.Image) and bytes(im.value[:8]) == PNG_SIGNATURE for im in stack.children)
    assert stack.selected_index == 0 and slider.index == 0
    link = box.link
    assert isinstance(link, Link)  # jslink: synced in the browser, no kernel needed
    assert link.source == (slider, "index") and link.target == (stack, "selected_index")
    assert not plt.get_fignums()  # rendered frames were closed


@pytest.mark.parametrize("frames", [{}, {"a": "not an image"}, {"a": b"GIF89a..."}, {"": b""}, [1, 2]])
def test_frame_slider_bad_input(frames):
    with pytest.raises(ValueError):
        frame_slider(frames, "x")


# ---- frame_panel: several controls over a grid of frames -------------------------------------------
BETAS, DECODERS, DECODINGS = ["0.001", "0.01", "0.1"], ["linear", "mlp"], ["time", "rate"]
CONTROLS = [("β", BETAS), ("decoder", DECODERS), ("decoding", DECODINGS)]


def png_of(k: int) -> bytes:
    fig = small_figure(k)
    png = figure_png(fig)
    plt.close(fig)
    return png


PNG = png_of(0)


def grid_frames(skip=()):
    """PNG frames over BETAS x DECODERS x DECODINGS (all different), except the points in `skip`."""
    return {point: png_of(i) for i, point in enumerate(itertools.product(BETAS, DECODERS, DECODINGS))
            if point not in skip}


def stacks_below(widget):
    """Every Stack in the tree under `widget` (depth first)."""
    out = [widget] if isinstance(widget, widgets.Stack) else []
    for child in getattr(widget, "children", ()):
        out += stacks_below(child)
    return out


def leaf(panel, indices):
    """The widget the nested Stacks show for control indices `indices` (what the browser displays)."""
    node = panel.children[-1].children[0]
    for i in indices:
        assert isinstance(node, widgets.Stack)
        node = node.children[i]
    return node


def test_frame_panel_structure_and_links():
    frames = grid_frames()
    panel = frame_panel(frames, CONTROLS)
    beta, decoder, decoding = panel.controls
    assert isinstance(beta, widgets.SelectionSlider)  # numeric values: a slider
    assert isinstance(decoder, widgets.ToggleButtons) and isinstance(decoding, widgets.ToggleButtons)
    assert [list(c.options) for c in panel.controls] == [BETAS, DECODERS, DECODINGS]
    assert panel.children[:3] == tuple(panel.controls) and panel.button is None and panel.output is None
    assert len(panel.images) == 12 and not panel.missing
    assert all(bytes(im.value) == frames[p] for p, im in panel.images.items())
    # nested Stacks: 1 over β, 3 over the decoder, 6 over the decoding
    stacks = stacks_below(panel)
    assert len(stacks) == 1 + 3 + 6
    # every Stack is jslinked (in the browser, no kernel) to the control of its level, index -> selected_index
    assert len(panel.links) == len(stacks) and all(isinstance(link, Link) for link in panel.links)
    targets = {id(link.target[0]): link for link in panel.links}
    assert set(targets) == {id(s) for s in stacks}
    depth = {id(panel.children[-1].children[0]): 0}
    for s in stacks:
        for child in s.children:
            depth[id(child)] = depth[id(s)] + 1
    for s in stacks:
        link = targets[id(s)]
        assert link.target == (s, "selected_index")
        assert link.source == (panel.controls[depth[id(s)]], "index")
        assert len(s.children) == len(CONTROLS[depth[id(s)]][1])
    # following the Stacks by the control indices reaches that point's frame
    for (i, b), (j, d), (k, g) in itertools.product(enumerate(BETAS), enumerate(DECODERS), enumerate(DECODINGS)):
        image = leaf(panel, (i, j, k))
        assert image is panel.images[(b, d, g)] and bytes(image.value) == frames[(b, d, g)]
        assert any(c.endswith(f"-{i}-{j}-{k}") for c in image._dom_classes) and "vdib-frame" in image._dom_classes
    assert panel.point() == ("0.001", "linear", "time")
    assert not plt.get_fignums()
    # a tooltip on an Image breaks its view in the static site's html-manager (it reads a `description`)
    assert all(im.tooltip is None for im in panel.images.values())


def test_frame_panel_initial_point_and_kinds():
    frames = {(0.1, "a"): png_of(1)}
    controls = [("τ", [0.1, 1.0, 10.0], "dropdown"), ("x", ["a", "b", "c", "d", "e"])]
    panel = frame_panel(frames, controls, initial=(10.0, "c"))
    tau, x = panel.controls
    assert isinstance(tau, widgets.Dropdown) and list(tau.options) == ["0.1", "1", "10"]
    assert isinstance(x, widgets.Dropdown)  # more than 4 categorical values: a dropdown
    assert panel.point() == (10.0, "c") and (tau.index, x.index) == (2, 2)
    outer = panel.children[-1].children[0]
    assert outer.selected_index == 2 and all(s.selected_index == 2 for s in outer.children)


def test_frame_panel_placeholder_for_missing_points():
    skip = {("0.01", "mlp", "rate"), ("0.1", "linear", "time")}
    frames = grid_frames(skip)
    panel = frame_panel(frames, CONTROLS)
    assert sorted(panel.missing) == sorted(skip) and len(panel.images) == 12
    placeholders = [panel.images[p] for p in skip]
    assert all(bytes(im.value[:8]) == PNG_SIGNATURE and "vdib-missing" in im._dom_classes for im in placeholders)
    assert bytes(placeholders[0].value) != bytes(placeholders[1].value)  # each names its own point
    assert not any("vdib-missing" in panel.images[p]._dom_classes for p in frames)
    assert leaf(panel, (1, 1, 1)) is panel.images[("0.01", "mlp", "rate")]
    # the placeholder has the size of the real frames
    size = lambda png: (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))  # noqa: E731
    assert size(bytes(placeholders[0].value)) == size(next(iter(frames.values())))


@pytest.mark.parametrize("frames, controls, kwargs", [
    ({}, CONTROLS, {}),                                                    # no frames
    ({("0.001", "linear"): PNG}, CONTROLS, {}),                           # key of the wrong length
    ({"0.001": PNG}, [("β", BETAS)], {}),                                  # key not a tuple
    ({("1", "linear", "time"): PNG}, CONTROLS, {}),                       # value not on the grid
    ({("0.001", "linear", "time"): b"GIF89a"}, CONTROLS, {}),             # not a PNG
    ({("0.001", "linear", "time"): "figure"}, CONTROLS, {}),              # not a frame
    ({("a",): PNG}, [], {}),                                               # no controls
    ({("a",): PNG}, [("x", [])], {}),                                      # a control without values
    ({("a",): PNG}, [("x", "abc")], {}),                                   # values given as a string
    ({("a",): PNG}, [("x", ["a", "a"])], {}),                              # repeated values
    ({("a",): PNG}, [("x", ["a"], "knob")], {}),                           # unknown kind
    ({("a", "a"): PNG}, [("x", ["a"]), ("x", ["a"])], {}),                 # repeated names
    ({("0.001", "linear", "time"): PNG}, CONTROLS, {"initial": ("0.001", "cnn", "time")}),  # bad initial
])
def test_frame_panel_bad_input(frames, controls, kwargs):
    with pytest.raises(ValueError):
        frame_panel(frames, controls, **kwargs)


def test_frame_panel_train_button_runs_the_selected_point():
    frames = grid_frames()
    calls = []

    def train(point):
        calls.append(point)
        return small_figure(7)

    assert frame_panel(frames, CONTROLS).button is None  # no callable, no button
    panel = frame_panel(frames, CONTROLS, train=train)
    assert isinstance(panel.button, widgets.Button) and panel.button in panel.children
    assert isinstance(panel.output, widgets.Output) and panel.output in panel.children[-1].children
    beta, decoder, decoding = panel.controls
    beta.index, decoder.index, decoding.index = 2, 1, 0  # what a reader selects in a kernel
    panel.button.click()  # the button's handler, as a click runs it
    assert calls == [("0.1", "mlp", "time")]
    decoding.value = "rate"
    panel.button.click()
    assert calls[-1] == ("0.1", "mlp", "rate")
    assert not plt.get_fignums()  # the live figure was rendered and closed


# ---- ipywidgets 7 (no Stack): one image swapped by a callback; forced here with VDIB_NO_STACK=1 ----
def test_frame_slider_without_stack_swaps_one_image(monkeypatch):
    monkeypatch.setenv("VDIB_NO_STACK", "1")
    from vdib_core.widgets import has_stack

    assert not has_stack()
    frames = {f"k = {k}": png_of(k) for k in range(4)}
    box = frame_slider(frames, description="k")
    slider, image = box.children
    assert box.link is None and not any(isinstance(w, getattr(widgets, "Stack", ())) for w in box.children)
    assert bytes(image.value) == frames["k = 0"]
    for k in (2, 3, 0, 1):
        slider.index = k
        assert bytes(image.value) == frames[f"k = {k}"]


def test_frame_panel_without_stack_swaps_one_image(monkeypatch):
    monkeypatch.setenv("VDIB_NO_STACK", "1")
    frames = {(b, d, g): png_of(i) for i, (b, d, g) in enumerate(itertools.product(*(v for _, v in CONTROLS)))}
    panel = frame_panel(frames, CONTROLS, initial=(CONTROLS[0][1][1], CONTROLS[1][1][0], CONTROLS[2][1][1]))
    view = panel.children[-1].children[0]
    assert isinstance(view, widgets.Image) and not panel.links
    assert bytes(view.value) == frames[panel.point()]
    for k, control in enumerate(panel.controls):  # every value of every control shows its point's frame
        for i in range(len(CONTROLS[k][1])):
            control.index = i
            assert bytes(view.value) == frames[panel.point()], (k, i)


def test_the_train_button_is_marked_as_needing_a_kernel():
    frames = {(b,): png_of(i) for i, b in enumerate([0.1, 1.0])}
    panel = frame_panel(frames, [("β", [0.1, 1.0])], train=lambda point: png_of(7))
    assert "vdib-needs-kernel" in panel.button._dom_classes  # hidden by the static site's book/book.css
    css = (Path(__file__).parents[1] / "book" / "book.css").read_text()
    assert re.search(r"\.vdib-needs-kernel\s*\{\s*display:\s*none", css)
