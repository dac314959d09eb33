"""Event-camera data: the AEDAT 2.0 reader and writer, and framing of events into spike tensors.

Events are numpy structured arrays in tonic's convention (fields x, y, t in µs, p in {0, 1}), so
any tonic transform applies to them. Framing returns time-first binary tensors [T, P, H, W].
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])  # tonic's
_RECORD = np.dtype([("address", ">u4"), ("t", ">u4")])  # one AEDAT 2.0 event: big-endian uint32 pair
_AEDAT2_MAGIC = b"#!AER-DAT2"


def make_events(x, y, t, p) -> np.ndarray:
    """Structured event array (tonic's dtype) from four equally long 1-D sequences."""
    x, y, t, p = (np.asarray(v) for v in (x, y, t, p))
    if not x.ndim == y.ndim == t.ndim == p.ndim == 1 or not len(x) == len(y) == len(t) == len(p):
        raise ValueError(f"x, y, t, p must be 1-D of equal length, got shapes {x.shape} {y.shape} {t.shape} {p.shape}")
    if p.size and not np.isin(p, (0, 1)).all():
        raise ValueError("polarity p must be 0 (OFF) or 1 (ON)")
    events = np.empty(len(x), dtype=EVENT_DTYPE)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p
    return events


def read_aedat(path: str | Path) -> np.ndarray:
    """Read an AEDAT 2.0 file (jAER): '#' header lines, then big-endian uint32 (address, t µs) pairs.

    DVS128 addresses decode as x = (addr >> 1) & 0x7F, y = (addr >> 8) & 0x7F, p = addr & 1, in raw
    sensor coordinates (flips and crops belong to a dataset's preprocessing). Returns a structured
    array with fields x, y, t, p (tonic's convention). Truncated or non-AEDAT files raise ValueError.
    """
    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(_AEDAT2_MAGIC):
        found = data[:20].split(b"\n")[0]
        raise ValueError(f"{path}: not an AEDAT 2.0 file (expected a first line '#!AER-DAT2.0', found {found!r})")
    start = 0
    while data[start:start + 1] == b"#":  # header: lines starting with '#', ending in \n (or \r\n)
        end = data.find(b"\n", start)
        if end < 0:
            raise ValueError(f"{path}: truncated AEDAT 2.0 header (a '#' line has no end)")
        start = end + 1
    n_bytes = len(data) - start
    if n_bytes % _RECORD.itemsize:
        raise ValueError(
            f"{path}: truncated AEDAT 2.0 file: {n_bytes} bytes of events is not a multiple of "
            f"{_RECORD.itemsize} (uint32 address + uint32 timestamp)"
        )
    records = np.frombuffer(data, dtype=_RECORD, offset=start)  # [E]
    address = records["address"]
    return make_events((address >> 1) & 0x7F, (address >> 8) & 0x7F, records["t"], address & 1)


def write_aedat(path: str | Path, events: np.ndarray, header: Sequence[str] = ()) -> None:
    """Write events as an AEDAT 2.0 file with DVS128 addresses (the inverse of `read_aedat`)."""
    _check_events(events)
    if events.size and (events["x"].min() < 0 or events["x"].max() > 127 or events["y"].min() < 0
                        or events["y"].max() > 127 or events["t"].min() < 0 or events["t"].max() >= 2**32):
        raise ValueError("DVS128 events need 0 <= x, y <= 127 and 0 <= t < 2**32 µs")
    records = np.empty(len(events), dtype=_RECORD)
    records["address"] = (events["y"].astype(np.uint32) << 8) | (events["x"].astype(np.uint32) << 1) | events["p"]
    records["t"] = events["t"]
    lines = ["#!AER-DAT2.0", *(f"# {line}" for line in header)]
    Path(path).write_bytes("".join(line + "\r\n" for line in lines).encode("ascii") + records.tobytes())


def _check_events(events: np.ndarray) -> None:
    names = getattr(getattr(events, "dtype", None), "names", None) or ()
    if not isinstance(events, np.ndarray) or not {"x", "y", "t", "p"} <= set(names):
        raise TypeError("events must be a numpy structured array with fields x, y, t, p (see make_events)")


def events_to_frames(events: np.ndarray, sensor_size: tuple[int, int, int], dt: float, T: int,
                     t_start: float = 0, binary: bool = True) -> torch.Tensor:
    """Bin events into T frames of `dt` µs starting at `t_start`: spike tensor [T, P, H, W].

    Frame k holds events with t_start + k dt <= t < t_start + (k + 1) dt; events outside the T
    frames are dropped. binary=True gives 0/1 (a pixel spikes if it had >= 1 event in the bin),
    else counts. Same layout as tonic's ToFrame(sensor_size, time_window=dt), but with a fixed
    start and T (ToFrame starts at the first event and drops the last partial window) and float
    counts, exact up to 2^24 events per bin (ToFrame's int16 counts overflow at 32,767).
    """
    return batch_events_to_frames([events], sensor_size, dt, T, t_start, binary)[:, 0]  # [T, P, H, W]


def batch_events_to_frames(batch: Sequence[np.ndarray], sensor_size: tuple[int, int, int], dt: float, T: int,
                           t_start: float = 0, binary: bool = True) -> torch.Tensor:
    """`events_to_frames` for B recordings at once (one bincount): time-first [T, B, P, H, W]."""
    for events in batch:
        _check_events(events)
    W, H, P = sensor_size
    if not (isinstance(T, int) and T >= 1 and dt > 0):
        raise ValueError(f"expected an int T >= 1 and dt > 0, got T={T!r}, dt={dt!r}")
    B = len(batch)
    events = np.concatenate(batch) if B else np.zeros(0, EVENT_DTYPE)  # [E] all recordings
    b = np.repeat(np.arange(B), [len(e) for e in batch])  # [E] recording of each event
    if events.size and (events["x"].min() < 0 or events["x"].max() >= W or events["y"].min() < 0
                        or events["y"].max() >= H or int(events["p"].max()) >= P):
        raise ValueError(f"events fall outside sensor_size (W, H, P) = {sensor_size}")
    k = np.floor((events["t"] - t_start) / dt).astype(np.int64)  # [E] frame index
    keep = (k >= 0) & (k < T)
    flat = (((k[keep] * B + b[keep]) * P + events["p"][keep]) * H + events["y"][keep]) * W + events["x"][keep]
    frames = torch.zeros(T * B * P * H * W)  # float counts are exact up to 2^24 events per bin
    frames.index_put_((torch.from_numpy(flat),), torch.ones(len(flat)), accumulate=not binary)
    return frames.view(T, B, P, H, W)  # [T, B, P, H, W]


def collate_time_first(batch: Sequence[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """DataLoader collate_fn: [(frames [T, ...], label)] -> (frames [T, B, ...], labels [B])."""
    frames = torch.stack([f for f, _ in batch], dim=1)  # [T, B, ...]
    return frames, torch.tensor([int(label) for _, label in batch])
