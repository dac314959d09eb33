"""Sliders and panels for the book's chapters (pre-rendered frames, so they work on the static site
without a running kernel).

`frame_slider`: a slider over pre-rendered PNG frames. The slider is linked to an `ipywidgets.Stack`
of `ipywidgets.Image` widgets with `ipywidgets.jslink`, so the browser flips the frames by itself: it
keeps working in the static HTML book, where no kernel runs. (Live `interact` panels need nothing
from the package.)

`frame_panel`: the same over a grid of frames with several controls (sliders, toggle buttons,
dropdowns), through nested Stacks; optionally with a "train this point now" button for live kernels
(it carries the CSS class `vdib-needs-kernel`, which the static site's stylesheet hides: there, no
kernel would answer it).

ipywidgets 7 (long shipped by Colab) has no `Stack`. There, and whenever `VDIB_NO_STACK=1` is set (the
tests force this path), both widgets show one `Image` whose PNG a Python callback swaps when a control
moves: it needs a live kernel, which ipywidgets 7 always has here (the static site is built with 8).

ipywidgets and matplotlib are imported here only; `import vdib_core` does not need them.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import numbers
import os
from typing import Callable, Hashable, Mapping, Sequence, Tuple, Union

import ipywidgets as widgets
from IPython.display import display
from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Frame = Union[Figure, bytes]


def has_stack() -> bool:
    """Whether frames can be flipped in the browser (`ipywidgets.Stack`, ipywidgets >= 8), unless
    `VDIB_NO_STACK=1` asks for the kernel-side fallback (one Image swapped by a callback)."""
    return hasattr(widgets, "Stack") and os.environ.get("VDIB_NO_STACK") != "1"


def figure_png(fig: Figure, dpi: int = 80) -> bytes:
    """PNG bytes of a matplotlib figure (tight bounding box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _frame_bytes(label: str, frame: Frame, dpi: int) -> bytes:
    if isinstance(frame, Figure):
        png = figure_png(frame, dpi)
        import matplotlib.pyplot as plt

        plt.close(frame)  # a rendered frame must not also be shown as a figure of its own
        return png
    if isinstance(frame, (bytes, bytearray)):
        if not bytes(frame[:8]) == PNG_SIGNATURE:
            raise ValueError(f"frame {label!r}: bytes are not a PNG image (no PNG signature)")
        return bytes(frame)
    raise ValueError(f"frame {label!r}: expected a matplotlib Figure or PNG bytes, got {type(frame).__name__}")


def frame_slider(frames: Mapping[str, Frame], description: str = "", *, dpi: int = 80,
                 width: str | None = None) -> widgets.VBox:
    """A slider over pre-rendered frames that works without a kernel.

    frames: label -> matplotlib Figure (rendered to PNG and closed) or PNG bytes, in slider order.
    Returns VBox([slider, stack]): a `SelectionSlider` over the labels whose `index` is linked with
    `jslink` to the `selected_index` of a `Stack` of `Image` widgets (one per frame). The link is
    also kept as the box's `link` attribute. `width` (CSS, e.g. "600px") sizes the images.
    """
    if not isinstance(frames, Mapping) or len(frames) == 0:
        raise ValueError("frames must be a non-empty mapping label -> Figure or PNG bytes")
    labels = list(frames)
    if not all(isinstance(label, str) and label for label in labels):
        raise ValueError(f"frame labels must be non-empty strings, got {labels!r}")
    pngs = [_frame_bytes(label, frames[label], dpi) for label in labels]
    layout = widgets.Layout(width=width, max_width="100%", height="auto") if width else \
        widgets.Layout(max_width="100%", height="auto")
    slider = widgets.SelectionSlider(options=labels, value=labels[0], description=description,
                                     continuous_update=True, style={"description_width": "initial"},
                                     layout=widgets.Layout(width="min(600px, 100%)"))
    if not has_stack():  # ipywidgets 7: one image, its PNG swapped by the kernel when the slider moves
        image = widgets.Image(value=pngs[0], format="png", layout=layout)

        def show(change: dict) -> None:
            image.value = pngs[change["new"]]

        slider.observe(show, names="index")
        box = widgets.VBox([slider, image])
        box.link = None
        return box
    images = [widgets.Image(value=png, format="png", layout=layout) for png in pngs]
    stack = widgets.Stack(images, selected_index=0)
    link = widgets.jslink((slider, "index"), (stack, "selected_index"))
    box = widgets.VBox([slider, stack])
    box.link = link  # keep a reference (and let tests find it)
    return box


# ---- several controls over a grid of frames ------------------------------------------------------
Point = Tuple[Hashable, ...]
CONTROL_KINDS = ("slider", "toggle", "dropdown")


class FramePanel(widgets.VBox):
    """The box `frame_panel` returns: VBox([control, ..., (button), HBox([frames, (live output)])]).

    Attributes: `controls` (one selection widget per axis), `values` (each axis' values), `links` (the
    `jslink`s, control `index` -> `Stack.selected_index`), `images` (point -> Image), `missing` (the points
    shown as placeholders), `button` and `output` (None without `train`); `point()` is the selected point.
    """

    controls: list
    values: list
    links: list
    images: dict
    missing: list
    button: widgets.Button | None
    output: widgets.Output | None

    def point(self) -> Point:
        """The point the controls select now (a tuple of control values, as the keys of `frames`)."""
        return tuple(vals[c.index] for vals, c in zip(self.values, self.controls))


def _label(value: Hashable) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _is_number(value: Hashable) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        return True
    try:
        float(value)  # a numeric label such as "0.001"
        return True
    except (TypeError, ValueError):
        return False


def _png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # IHDR width, height


def placeholder_png(text: str, size: tuple[int, int] = (480, 240), dpi: int = 80) -> bytes:
    """A grey PNG of `size` pixels (width, height) saying `text`: the frame of a grid point not computed."""
    w, h = size
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi, facecolor="0.93")  # not pyplot: nothing to close
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, color="0.3", wrap=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor=fig.get_facecolor())
    return buf.getvalue()


def _make_control(name: str, labels: list[str], kind: str) -> widgets.Widget:
    style = {"description_width": "initial"}
    if kind == "slider":
        return widgets.SelectionSlider(options=labels, value=labels[0], description=name, continuous_update=True,
                                       style=style, layout=widgets.Layout(width="min(600px, 100%)"))
    if kind == "toggle":
        return widgets.ToggleButtons(options=labels, value=labels[0], description=name,
                                     style=dict(style, button_width="auto"))
    return widgets.Dropdown(options=labels, value=labels[0], description=name, style=style)


def _parse_controls(controls: Sequence) -> tuple[list[str], list[list], list[str]]:
    if isinstance(controls, (str, bytes)) or not isinstance(controls, Sequence) or len(controls) == 0:
        raise ValueError("controls must be a non-empty list of (name, values) or (name, values, kind)")
    names, values, kinds = [], [], []
    for c in controls:
        if not isinstance(c, (tuple, list)) or len(c) not in (2, 3) or not isinstance(c[0], str) or not c[0]:
            raise ValueError(f"each control must be (name, values) or (name, values, kind), got {c!r}")
        name, vals = c[0], c[1]
        if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence) or len(vals) == 0:
            raise ValueError(f"control {name!r}: values must be a non-empty list, got {vals!r}")
        vals = list(vals)
        labels = [_label(v) for v in vals]
        if len(set(labels)) != len(labels) or len(set(vals)) != len(vals):
            raise ValueError(f"control {name!r}: values must be distinct, got {vals!r}")
        kind = c[2] if len(c) == 3 else \
            "slider" if all(map(_is_number, vals)) else "toggle" if len(vals) <= 4 else "dropdown"
        if kind not in CONTROL_KINDS:
            raise ValueError(f"control {name!r}: kind must be one of {CONTROL_KINDS}, got {kind!r}")
        names.append(name)
        values.append(vals)
        kinds.append(kind)
    if len(set(names)) != len(names):
        raise ValueError(f"control names must be distinct, got {names!r}")
    return names, values, kinds


def frame_panel(frames: Mapping[Point, Frame], controls: Sequence, *, initial: Point | None = None,
                dpi: int = 70, width: str | None = None, train: Callable[[Point], Frame] | None = None,
                missing_text: str = "not computed") -> FramePanel:
    """Several controls over a grid of pre-rendered frames, working without a kernel (used in the chapter
    "Efficient predictive coding"; `frame_slider` is the one-control case).

    controls: [(name, values) or (name, values, kind), ...], one per axis of the grid; kind is "slider"
    (default for numeric values, e.g. β), "toggle" (default for up to 4 other values) or "dropdown".
    frames: point -> matplotlib Figure (rendered to PNG and closed) or PNG bytes, where a point is a tuple
    with one value per control, e.g. {(0.001, "linear", "time"): fig, ...}. A point of the grid without a
    frame shows a placeholder saying `missing_text`. `initial`: the point selected first (default: the
    first value of every control).

    The frames sit in nested `Stack`s, one level per control: the outer Stack holds one Stack per value of
    control 1, each of those one per value of control 2, and so on down to the `Image`s. Every Stack's
    `selected_index` is linked with `jslink` to the `index` of its level's control, so the browser flips
    the frames by itself (the static site needs no kernel). Frames carry CSS classes for browser tests:
    `vdib-frame`, `vdib-frame-<panel id>-<i>-<j>-...` (the value indices) and `vdib-missing`.

    train: optional `train(point) -> Figure or PNG bytes`; adds a "train this point now" button that,
    in a live kernel, calls it for the selected point (the callable shows its own progress) and shows
    the result in an `Output` next to the pre-rendered frame.
    """
    names, values, kinds = _parse_controls(controls)
    if not isinstance(frames, Mapping) or len(frames) == 0:
        raise ValueError("frames must be a non-empty mapping point -> Figure or PNG bytes")
    index = [{v: i for i, v in enumerate(vals)} for vals in values]
    for key in frames:
        if not isinstance(key, tuple) or len(key) != len(names):
            raise ValueError(f"frame key {key!r}: expected a tuple of {len(names)} values ({', '.join(names)})")
        for name, vals, value in zip(names, index, key):
            if value not in vals:
                raise ValueError(f"frame key {key!r}: {value!r} is not a value of control {name!r}")
    if initial is None:
        initial = tuple(vals[0] for vals in values)
    if not isinstance(initial, tuple) or len(initial) != len(names) or \
            any(v not in ix for v, ix in zip(initial, index)):
        raise ValueError(f"initial must be a tuple of one value per control ({', '.join(names)}), got {initial!r}")

    def describe(point: Point) -> str:
        return ", ".join(f"{n} = {_label(v)}" for n, v in zip(names, point))

    pngs = {key: _frame_bytes(describe(key), frame, dpi) for key, frame in frames.items()}
    size = _png_size(next(iter(pngs.values())))
    panel_id = hashlib.sha1(b"".join(pngs.values())).hexdigest()[:8]
    layout = dict(width=width, max_width="100%", height="auto") if width else dict(max_width="100%", height="auto")

    ctrls = [_make_control(n, [_label(v) for v in vals], k) for n, vals, k in zip(names, values, kinds)]
    for k, c in enumerate(ctrls):
        c.add_class("vdib-control")
        c.add_class(f"vdib-control-{k}")
        c.index = index[k][initial[k]]
    images, missing, links = {}, [], []

    def level(prefix: tuple[int, ...]) -> widgets.Widget:
        k = len(prefix)
        if k == len(names):  # a leaf: the frame of one point
            point = tuple(vals[i] for vals, i in zip(values, prefix))
            if point not in pngs:
                missing.append(point)
            png = pngs.get(point) or placeholder_png(f"{missing_text}\n({describe(point)})", size, dpi)
            # no `tooltip`: the html-manager's Image view reads a `description` that Image lacks, and fails
            image = widgets.Image(value=png, format="png", layout=widgets.Layout(**layout))
            image.add_class("vdib-frame")
            image.add_class(f"vdib-frame-{panel_id}-" + "-".join(map(str, prefix)))
            if point not in pngs:
                image.add_class("vdib-missing")
            images[point] = image
            return image
        stack = widgets.Stack([level(prefix + (i,)) for i in range(len(values[k]))],
                              selected_index=ctrls[k].index)
        links.append(widgets.jslink((ctrls[k], "index"), (stack, "selected_index")))
        return stack

    if has_stack():
        view = level(())
    else:  # ipywidgets 7: the leaves only (no Stacks, no links); one image shows the selected point's PNG
        for prefix in itertools.product(*(range(len(vals)) for vals in values)):
            level(prefix)
        view = widgets.Image(value=images[initial].value, format="png", layout=widgets.Layout(**layout))
        view.add_class("vdib-frame")

        def show(_: dict | None = None) -> None:
            view.value = images[tuple(vals[c.index] for vals, c in zip(values, ctrls))].value

        for c in ctrls:
            c.observe(show, names="index")
    button = output = None
    if train is not None:
        button = widgets.Button(description="train this point now",  # no icon: its font is not served offline
                                tooltip="trains a small model at the selected point (needs a running Python kernel)",
                                layout=widgets.Layout(width="auto"))
        button.add_class("vdib-needs-kernel")  # hidden on the static site (book/book.css): no kernel there
        output = widgets.Output()
    panel = FramePanel([*ctrls, *([button] if button else []), widgets.HBox([view, output] if output else [view])])
    panel.add_class("vdib-panel")
    panel.add_class(f"vdib-panel-{panel_id}")
    panel.controls, panel.values, panel.links, panel.images, panel.missing = ctrls, values, links, images, missing
    panel.button, panel.output = button, output

    if train is not None:
        def train_selected(_: widgets.Button | None = None) -> None:
            point = panel.point()
            output.clear_output()
            with output:
                print(f"live run at {describe(point)}")
                png = _frame_bytes(describe(point), train(point), dpi)
                output.clear_output(wait=True)
                print(f"live run at {describe(point)}")
                display(widgets.Image(value=png, format="png", layout=widgets.Layout(**layout)))

        button.on_click(train_selected)
    return panel
