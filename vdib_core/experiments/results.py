"""Result files: one JSON per trial (+ a compressed .npz of its arrays), named by a hash of its
configuration, written atomically; reading them back (`Result`, `load_results`, `select`) and finding
the book's committed results (`book_results`).

Result file (JSON, fixed top level): `experiment`, `params`, `metrics`, `references`, `history`,
`provenance` (`version`, `git_commit`, `git_dirty`, `torch`, `cpu`, `gpu`, `device`, `threads`, `wall_s`,
`created`, `model_config`, `train_config`, `init`, `data`, `arrays`).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import __version__
from .registry import ConfigError

TOP_LEVEL = ("experiment", "params", "metrics", "references", "history", "provenance")
EXECUTION_ONLY = ("device",)  # recorded, but not part of a trial's identity (the numbers should not depend on it)
ADDED_LATER = {"refit": 0}  # parameters added after results were made: at this value left out of the identity,
# so that a trial keeps the key (and its sweeps the resumption) it had before the parameter existed


def trial_key(experiment: str, params: dict) -> str:
    """Identity of a trial: a hash of its experiment and parameters (execution-only ones left out)."""
    ident = {k: v for k, v in params.items()
             if k not in EXECUTION_ONLY and not (k in ADDED_LATER and v == ADDED_LATER[k])}
    blob = json.dumps([experiment, ident], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def result_path(out: str | Path, experiment: str, params: dict) -> Path:
    return Path(out) / f"{experiment}-{trial_key(experiment, params)}.json"


def _git(*args: str) -> str | None:
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def cpu_model() -> str:
    """The processor's model name (bitwise-equal reruns can only be expected on the same kind of CPU)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance() -> dict:
    """Package and torch versions, the git commit of the checkout the package runs from (if any;
    `git_dirty`: tracked files differ from that commit), and the machine: CPU model and GPU (if any)."""
    commit = _git("rev-parse", "HEAD")
    dirty = None if commit is None else bool(_git("status", "--porcelain", "--untracked-files=no"))
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {"version": __version__, "git_commit": commit, "git_dirty": dirty, "torch": torch.__version__,
            "cpu": cpu_model(), "gpu": gpu}


def _history(history: list[dict]) -> list[dict]:
    return [{k: (float(v) if isinstance(v, float) else v) for k, v in h.items()} for h in history]


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a result file is as readable as any other
        with os.fdopen(fd, mode) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_result(out: str | Path, result: dict, arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write a trial's JSON (and its arrays as a compressed .npz beside it) atomically; -> JSON path.
    The arrays are written first, so a JSON on disk always has its arrays."""
    path = result_path(out, result["experiment"], result["params"])
    path.parent.mkdir(parents=True, exist_ok=True)
    if arrays:
        npz = path.with_suffix(".npz")
        _atomic_write(npz, lambda f: np.savez_compressed(f, **arrays), "wb")
        result["provenance"]["arrays"] = npz.name
    _atomic_write(path, lambda f: json.dump(result, f, indent=1, sort_keys=False), "w")
    return path


@dataclass
class Result:
    """One result file: its JSON fields, its path, and its arrays loaded on demand."""

    experiment: str
    params: dict
    metrics: dict
    references: dict
    history: list
    provenance: dict
    path: Path

    def get(self, dotted: str) -> Any:
        """A value by dotted name, e.g. 'metrics.accuracy' or 'params.delta' (a bare name is a parameter)."""
        section, _, key = dotted.rpartition(".")
        return getattr(self, section or "params").get(key)

    def arrays(self) -> dict[str, np.ndarray]:
        name = self.provenance.get("arrays")
        if not name:
            return {}
        with np.load(self.path.parent / name) as f:
            return dict(f)


def read_result(path: str | Path) -> Result:
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path} is not a readable result file ({type(e).__name__})") from None
    if not isinstance(d, dict) or any(k not in d for k in TOP_LEVEL):
        raise ConfigError(f"{path} is not a vdib result file (needs top-level keys {', '.join(TOP_LEVEL)})")
    return Result(**{k: d[k] for k in TOP_LEVEL}, path=path)


def book_results(name: str) -> Path | None:
    """The committed results `book/results/<name>` that the book's chapters read: next to the running
    notebook (the book build runs the chapters in book/), else in the checkout vdib_core runs from; None
    when absent (an installed package, Colab) or when `VDIB_RESULTS=live` asks a chapter for its small
    live runs instead."""
    if os.environ.get("VDIB_RESULTS") == "live":
        return None
    for base in (Path.cwd(), Path(__file__).resolve().parents[2] / "book"):
        if (base / "results" / name).is_dir():
            return base / "results" / name
    return None


def load_results(directory: str | Path, experiment: str | None = None, **where: Any) -> list[Result]:
    """Every result file under `directory` (recursively), optionally of one experiment and with parameters
    equal to `where` (e.g. `decoder='mlp', quick=False`), sorted by path."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    results = [read_result(p) for p in sorted(directory.rglob("*.json"))]
    return select([r for r in results if experiment is None or r.experiment == experiment], **where)


def select(results: list[Result], **where: Any) -> list[Result]:
    """The results whose parameters equal `where`, e.g. `select(results, decoder="mlp", encoder="frozen")`."""
    return [r for r in results if all(r.params.get(k) == v for k, v in where.items())]


def provenance_summary(results: list[Result]) -> str:
    """Where and how long a set of results was made, for a `COMMANDS.md`: the number of trials, their
    compute (the sum of the trials' wall times), the clock span from the first start to the last end, the
    code commits (with how many trials each, and how many came from a modified checkout), the devices,
    CPU models and thread counts."""
    if not results:
        return "no results"
    prov = [r.provenance for r in results]
    ends = [datetime.fromisoformat(p["created"]) for p in prov]
    starts = [e - timedelta(seconds=p["wall_s"]) for e, p in zip(ends, prov)]
    commits = Counter(str(p.get("git_commit"))[:10] for p in prov)
    dirty = sum(bool(p.get("git_dirty")) for p in prov)

    def counted(key: str) -> str:
        return ", ".join(f"{k} ({n})" for k, n in Counter(str(p.get(key)) for p in prov).most_common())
    lines = [f"{len(results)} trials, {sum(p['wall_s'] for p in prov) / 3600:.2f} h of compute, "
             f"made between {min(starts):%Y-%m-%d %H:%M} and {max(ends):%Y-%m-%d %H:%M} UTC "
             f"({(max(ends) - min(starts)).total_seconds() / 3600:.2f} h of clock time)",
             "commits: " + ", ".join(f"{c} ({n})" for c, n in commits.most_common())
             + (f"; {dirty} from a modified checkout" if dirty else ""),
             f"devices: {counted('device')}; CPUs: {counted('cpu')}; threads: {counted('threads')}"]
    return "\n".join(lines)
