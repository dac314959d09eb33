"""Kernel-free frame slider: structure, the client-side link, bad input."""
import ipywidgets as widgets
from ipywidgets.widgets.widget_link import Link
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from vdib_core.widgets import PNG_SIGNATURE, figure_png, frame_slider  # noqa: E402


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
