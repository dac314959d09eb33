"""Sweeps on a Ray cluster: `vdib sweep ... --backend ray` (book page "Running the grids on a cluster").

Every trial of the grid becomes a Ray task that calls the pure `run_trial` and returns (result, arrays);
the driver keeps the progress bar, skips trials whose result file exists (resume), and writes each
result file itself, so the cluster needs no shared file system. A failed trial is reported and retried
once; it does not stop the others, and the sweep raises `TrialsFailed` at the end, listing those that
failed twice. Ray is an optional extra (`pip install 'vdib_core[cluster]'`): it is imported here, and
only when a sweep asks for it, so the sequential path never loads it.
"""
from __future__ import annotations

import functools
from pathlib import Path

from .registry import ConfigError
from .results import result_path, write_result
from .sweeps import TrialsFailed, label, plan  # noqa: F401  (TrialsFailed: also raised by sweeps.sweep)
from .trials import run_trial, summary_line

INSTALL = "pip install 'vdib_core[cluster]'"
RETRIES = 1  # a failed trial runs once more before it counts as failed


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--backend ray needs Ray: {INSTALL}") from None
    return ray


def _trial(name: str, params: dict) -> tuple[dict, dict]:
    """Runs on a Ray worker. A trial that left its device to the default and got no GPU from Ray runs on
    the CPU, so that GPU-less trials never crowd onto a worker's GPUs (`device` is not part of the key)."""
    import ray

    if params.get("device") is None and not ray.get_gpu_ids():
        params = {**params, "device": "cpu"}
    return run_trial(name, params, progress=False)


def error_line(error: BaseException) -> str:
    """One line for an error from a Ray task: the trial's own exception when Ray carries it."""
    cause = getattr(error, "cause", None) or error  # RayTaskError wraps what the trial raised
    lines = [ln for ln in str(cause).splitlines() if ln.strip()]
    if cause is error and lines:  # no cause: the last line of Ray's text names the error
        return lines[-1].strip()
    return f"{type(cause).__name__}: {lines[0].strip() if lines else ''}"


def sweep(name: str, out: str | Path, *, quick: bool = False, progress: bool = True, address: str | None = None,
          cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0, **axes: list) -> list[Path]:
    """Run the cartesian product of `axes` as Ray tasks (`cpus_per_trial` CPUs and `gpus_per_trial`
    GPUs each, fractions allowed) and write their result files to `out` as they come back.

    Uses the Ray this process has already joined, else `ray.init(address)`: "auto" joins the cluster
    that `ray start` started on this machine, "HOST:PORT" or "ray://HOST:PORT" (Ray client) another one;
    None joins the one `RAY_ADDRESS` names or one running here, and else starts a Ray for this sweep. Returns the result paths of every trial of the grid, like
    `sweeps.sweep`; raises `TrialsFailed` if any trial failed twice, after all the others have landed."""
    if not cpus_per_trial > 0 or not gpus_per_trial >= 0:
        raise ConfigError(f"--cpus-per-trial must be > 0 and --gpus-per-trial >= 0, got {cpus_per_trial}, "
                          f"{gpus_per_trial}")
    ray = _import_ray()
    from tqdm.auto import tqdm

    trials, todo = plan(name, out, quick, axes)
    if not todo:
        return [result_path(out, name, p) for p in trials]
    joined = ray.is_initialized()
    if not joined:
        try:
            ray.init(address=address)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ConfigError(f"cannot start or join Ray at --address {address}: {error_line(e)}") from None
    task = ray.remote(_trial).options(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial, max_retries=0)
    pending = {task.remote(name, p): (p, 0) for p in todo}  # ref -> (configuration, retries so far)
    failures: list[tuple[dict, str]] = []
    from ..train import interactive

    progress = progress and interactive()  # redirected output: the summary lines are the progress
    bar = tqdm(total=len(todo), desc="sweep", unit="trial", disable=not progress)
    say = bar.write if progress else functools.partial(print, flush=True)
    try:
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            params, retries = pending.pop(ref)
            try:
                result, arrays = ray.get(ref)
            except Exception as e:  # the trial raised, its worker died, ...: Ray says which
                err = error_line(e)
                if retries < RETRIES:
                    say(f"{label(params, axes)} failed: {err}; retrying")
                    pending[task.remote(name, params)] = (params, retries + 1)
                    continue
                say(f"{label(params, axes)} failed again: {err}")
                failures.append((params, err))
            else:
                path = write_result(out, result, arrays)
                say(f"{label(params, axes)} {summary_line(result)} -> {path.name}")
            bar.update()
    finally:
        bar.close()
        for ref in pending:  # interrupted: do not leave trials running on the cluster
            ray.cancel(ref, force=True)
        if not joined:
            ray.shutdown()
    if failures:
        raise TrialsFailed(failures)
    return [result_path(out, name, p) for p in trials]
