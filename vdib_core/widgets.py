"""Sliders for the book's chapters (every slider is a pre-rendered frame slider, so it works on the static
site without a running kernel).

`frame_slider`: a slider over pre-rendered PNG frames. The slider is linked to an `ipywidgets.Stack`
of `ipywidgets.Image` widgets with `ipywidgets.jslink`, so the browser flips the frames by itself: it
keeps working in the static HTML book, where no kernel runs. (Live `interact` panels need nothing
from the package.)

ipywidgets and matplotlib are imported here only; `import vdib_core` does not need them.
"""
from __future__ import annotations

import io
from typing import Mapping, Union

import ipywidgets as widgets
from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Frame = Union[Figure, bytes]


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
    images = [widgets.Image(value=png, format="png", layout=layout) for png in pngs]
    stack = widgets.Stack(images, selected_index=0)
    slider = widgets.SelectionSlider(options=labels, value=labels[0], description=description,
                                     continuous_update=True, style={"description_width": "initial"},
                                     layout=widgets.Layout(width="min(600px, 100%)"))
    link = widgets.jslink((slider, "index"), (stack, "selected_index"))
    box = widgets.VBox([slider, stack])
    box.link = link  # keep a reference (and let tests find it)
    return box
