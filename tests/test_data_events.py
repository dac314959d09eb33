"""AEDAT 2.0 reading, framing, and the real MNIST-DVS preprocessing on a synthetic recording tree."""
import time

import numpy as np
import pytest
import torch

from vdib_core.data import (
    CROPPED_SIZE, EVENT_DTYPE, MNISTDVS, collate_time_first, events_to_frames, make_events,
    preprocess_mnist_dvs, read_aedat, write_aedat,
)


def _aedat_bytes(records, header=(b"#!AER-DAT2.0\r\n", b"# This is a raw AE data file\r\n")):
    return b"".join(header) + np.array(records, dtype=">u4").tobytes()


def test_read_known_events(tmp_path):
    path = tmp_path / "known.aedat"
    # (address, t): x=(a>>1)&0x7F, y=(a>>8)&0x7F, p=a&1
    path.write_bytes(_aedat_bytes([[(5 << 8) | (3 << 1) | 1, 10], [(127 << 8) | (127 << 1), 2**32 - 1],
                                   [(0 << 8) | (64 << 1) | 1, 20]]))
    events = read_aedat(path)
    assert events.dtype == EVENT_DTYPE  # tonic's x, y, t, p
    assert events["x"].tolist() == [3, 127, 64] and events["y"].tolist() == [5, 127, 0]
    assert events["p"].tolist() == [True, False, True] and events["t"].tolist() == [10, 2**32 - 1, 20]


def test_write_read_round_trip_and_speed(tmp_path):
    rng = np.random.default_rng(0)
    n = 1_000_000
    events = make_events(rng.integers(0, 128, n), rng.integers(0, 128, n), np.sort(rng.integers(0, 2**32, n)),
                         rng.integers(0, 2, n))
    path = tmp_path / "big.aedat"
    write_aedat(path, events, header=["written by the tests"])
    assert path.read_bytes().startswith(b"#!AER-DAT2.0\r\n# written by the tests\r\n")
    start = time.perf_counter()
    back = read_aedat(path)
    elapsed = time.perf_counter() - start
    assert np.array_equal(back, events)
    assert elapsed < 1.0, f"reading 1M events took {elapsed:.2f} s"


def test_truncated_and_foreign_files_are_rejected(tmp_path):
    truncated = tmp_path / "truncated.aedat"
    truncated.write_bytes(_aedat_bytes([[2, 1], [4, 2]])[:-3])
    with pytest.raises(ValueError, match="truncated.aedat.*truncated"):
        read_aedat(truncated)
    foreign = tmp_path / "foreign.aedat"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(ValueError, match="foreign.aedat.*not an AEDAT 2.0"):
        read_aedat(foreign)
    version3 = tmp_path / "v3.aedat"
    version3.write_bytes(b"#!AER-DAT3.1\r\n" + bytes(16))
    with pytest.raises(ValueError, match="v3.aedat"):
        read_aedat(version3)


def test_frames_binary_layout_and_last_partial_window():
    events = make_events([0, 0, 3, 1], [0, 0, 2, 1], [0, 5, 25, 29], [1, 1, 0, 1])
    frames = events_to_frames(events, (4, 3, 2), dt=10, T=3)  # [T, P, H, W]
    assert frames.shape == (3, 2, 3, 4) and frames.dtype == torch.float32
    assert frames.sum() == 3  # two events of one pixel in one bin count once
    assert frames[0, 1, 0, 0] == 1 and frames[2, 0, 2, 3] == 1 and frames[2, 1, 1, 1] == 1  # last window kept
    counts = events_to_frames(events, (4, 3, 2), dt=10, T=3, binary=False)
    assert counts[0, 1, 0, 0] == 2
    with pytest.raises(ValueError, match="sensor_size"):
        events_to_frames(events, (3, 3, 2), dt=10, T=3)


def test_frames_agree_with_tonic_and_do_not_overflow():
    tonic = pytest.importorskip("tonic")
    rng = np.random.default_rng(2)
    n = 5000
    events = make_events(rng.integers(0, 8, n), rng.integers(0, 6, n), np.sort(rng.integers(0, 1000, n)),
                         rng.integers(0, 2, n))
    events["t"][0], events["t"][-1] = 0, 999  # so ToFrame's first-event start and window count match ours
    ours = events_to_frames(events, (8, 6, 2), dt=100, T=10, binary=False)
    theirs = tonic.transforms.ToFrame(sensor_size=(8, 6, 2), time_window=100, include_incomplete=True)(events)
    assert np.array_equal(ours.numpy(), theirs)
    many = make_events(np.zeros(40_000), np.zeros(40_000), np.zeros(40_000), np.ones(40_000))
    assert events_to_frames(many, (1, 1, 2), dt=10, T=1, binary=False)[0, 1, 0, 0] == 40_000  # int16 would wrap


def test_collate_time_first():
    batch = [(torch.full((5, 2, 3, 3), float(i)), i) for i in range(4)]
    frames, labels = collate_time_first(batch)
    assert frames.shape == (5, 4, 2, 3, 3) and labels.tolist() == [0, 1, 2, 3]
    assert (frames[:, 2] == 2).all()


def _recording(rng, n=300):
    """Raw events on the whole sensor over 2.5 s, starting at an arbitrary timestamp."""
    return make_events(rng.integers(0, 128, n), rng.integers(0, 128, n),
                       np.sort(rng.integers(0, 2_500_000, n)) + 7_000_000, rng.integers(0, 2, n))


def test_preprocessing_flip_crop_and_first_two_seconds():
    events = make_events([127 - 48, 127 - 73, 127 - 47, 127 - 60, 127 - 60, 127 - 60],
                         [48, 73, 60, 47, 74, 60], [100, 200, 300, 400, 500, 2_000_100], [1, 0, 1, 1, 0, 1])
    out = preprocess_mnist_dvs(events)
    assert out["x"].tolist() == [0, 25] and out["y"].tolist() == [0, 25]  # x flipped, 48..73 -> 0..25
    assert out["t"].tolist() == [0, 100] and out["p"].tolist() == [True, False]  # t from the first event, < 2 s


@pytest.fixture
def recording_tree(tmp_path):
    rng = np.random.default_rng(3)
    raw = {}
    for digit in (0, 7):
        folder = tmp_path / f"grabbed_data{digit}" / "scale4"
        folder.mkdir(parents=True)
        for number in (1, 2, 900, 901, 1000):
            raw[digit, number] = _recording(rng)
            write_aedat(folder / f"mnist_{digit}_scale04_{number:04d}.aedat", raw[digit, number])
    (tmp_path / "grabbed_data0" / "scale8").mkdir()  # other scales are ignored
    return tmp_path, raw


def test_mnist_dvs_split_and_binning(recording_tree):
    root, raw = recording_tree
    train, test = MNISTDVS(root, train=True, dt=25_000), MNISTDVS(root, train=False, dt=10_000)
    assert len(train) == 6 and len(test) == 4
    assert train.labels.tolist() == [0, 0, 0, 7, 7, 7] and test.labels.tolist() == [0, 0, 7, 7]
    assert [p.name for p in test.files[:2]] == ["mnist_0_scale04_0901.aedat", "mnist_0_scale04_1000.aedat"]
    frames, label = train[3]
    assert frames.shape == (80, 2, 26, 26) and label == 7 and test[0][0].shape == (200, 2, 26, 26)
    # independent re-derivation from the raw events of recording 7/0001
    ev = raw[7, 1]
    x, y, t = 127 - ev["x"].astype(int), ev["y"].astype(int), ev["t"] - ev["t"][0]
    keep = (x >= 48) & (x <= 73) & (y >= 48) & (y <= 73) & (t < 2_000_000)
    expected = torch.zeros(80, 2, 26, 26)
    expected[t[keep] // 25_000, ev["p"][keep].astype(int), y[keep] - 48, x[keep] - 48] = 1
    assert keep.sum() > 0 and torch.equal(frames, expected)
    batch, labels = train.to_tensors([0, 3])
    assert batch.shape == (80, 2, 2, 26, 26) and torch.equal(batch[:, 1], expected) and labels.tolist() == [0, 7]
    assert "real" in repr(train) and "emulated" not in train.title


def test_mnist_dvs_transform_gets_events(recording_tree):
    root, _ = recording_tree
    ds = MNISTDVS(root, train=False, transform=lambda ev: (ev.dtype, ev["x"].max() < 26))
    (dtype, in_crop), label = ds[0]
    assert dtype == EVENT_DTYPE and in_crop and label == 0 and ds.sensor_size == CROPPED_SIZE


def test_mnist_dvs_missing_or_malformed_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"grabbed_data\{d\}/scale4.*MNISTDVS.html"):
        MNISTDVS(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"no train recordings.*grabbed_data\{d\}/scale4"):
        MNISTDVS(tmp_path)
    folder = tmp_path / "grabbed_data3" / "scale4"
    folder.mkdir(parents=True)
    (folder / "recording.aedat").write_bytes(b"#!AER-DAT2.0\r\n")
    with pytest.raises(ValueError, match="recording number"):
        MNISTDVS(tmp_path)
