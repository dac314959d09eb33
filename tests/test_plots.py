"""Plot helpers: rasters (ticks and image), bad input."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vdib_core.plots import raster  # noqa: E402


def test_raster_ticks_and_image():
    spikes = torch.zeros(10, 3)
    spikes[[1, 4], 0] = 1
    spikes[7, 2] = 1
    fig, (a, b) = plt.subplots(1, 2)
    raster(a, spikes, title="ticks")
    offsets = a.collections[0].get_offsets()
    assert sorted(map(tuple, np.asarray(offsets).tolist())) == [(1, 0), (4, 0), (7, 2)]
    raster(b, np.random.default_rng(0).random((30, 100)) < 0.1)  # N > 60: drawn as an image
    assert len(b.images) == 1 and b.images[0].get_array().shape == (100, 30)
    assert a.get_xlim() == (-0.5, 9.5) and a.get_title() == "ticks"
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\[T, N\]"):
        raster(a, torch.zeros(2, 3, 4))
