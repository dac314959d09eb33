"""`vdib sweep --backend ray` on a local Ray started inside the test (2 CPUs, loopback only, shut down after),
and the local backend's independence from Ray."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vdib_core.experiments import cli, load_results

# A Ray confined to this machine: loopback addresses, no usage report, no token written to the home folder.
# Ray reads these when it is imported, so they are set before.
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}

# 4 quick predictive-coding trials (2 seeds x 2 decodings), made smaller still: the test is about the
# backend, not the numbers.
SMALL = ["--quick", "--epochs=1", "--n-train=64", "--t-test=100"]
GRID = ["--seed=0..1", "--decoding=time,rate"]


def vdib(*args) -> int:
    return cli.main([str(a) for a in args])


@pytest.fixture(scope="module")
def ray_cluster():
    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'vdib_core[cluster]')")
    # "local": a new Ray of our own, even if another one runs on this machine
    ray.init("local", num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 2**20)
    yield ray
    ray.shutdown()


def test_ray_sweep_gives_the_sequential_results_and_resumes(tmp_path, capsys, ray_cluster):
    sweep = ["sweep", "predictive-coding", *SMALL, *GRID]
    assert vdib(*sweep, "--out", tmp_path / "local") == 0
    assert vdib(*sweep, "--out", tmp_path / "ray", "--backend", "ray", "--cpus-per-trial", "1") == 0
    local = {p.name: json.loads(p.read_text()) for p in (tmp_path / "local").glob("*.json")}
    ray = {p.name: json.loads(p.read_text()) for p in (tmp_path / "ray").glob("*.json")}
    assert len(local) == 4 and set(ray) == set(local)  # the same trials, under the same names
    for name, a in local.items():
        b = ray[name]
        assert b["metrics"] == a["metrics"] and b["references"] == a["references"]
        untimed = lambda history: [{k: v for k, v in h.items() if k != "time_s"} for h in history]  # noqa: E731
        assert untimed(b["history"]) == untimed(a["history"])
        assert {k: v for k, v in b["params"].items() if k != "device"} == \
               {k: v for k, v in a["params"].items() if k != "device"}
    npz = lambda d: sorted(p.name for p in (tmp_path / d).glob("*.npz"))  # noqa: E731
    assert len(npz("ray")) == 4 and npz("ray") == npz("local")
    written = {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").iterdir()}
    capsys.readouterr()
    assert vdib(*sweep, "--out", tmp_path / "ray", "--backend", "ray") == 0  # again: nothing left to do
    assert "4 trials, 4 already done" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ray").iterdir()} == written


def test_a_failing_trial_is_retried_once_reported_and_the_others_land(tmp_path, capsys, ray_cluster):
    # tau_d longer than the training sequences (t_train 50 in quick mode): the experiment's data() rejects it
    code = vdib("sweep", "predictive-coding", *SMALL, "--seed=0", "--tau-d=2,99,3", "--out", tmp_path,
                "--backend", "ray")
    out, err = capsys.readouterr()
    assert code == 1
    assert sorted(r.params["tau_d"] for r in load_results(tmp_path)) == [2, 3]
    why = "ValueError: tau_d=99 is longer than the sequences"
    assert out.count(f"seed=0 tau_d=99] failed: {why}") == 1 and "; retrying" in out
    assert out.count(f"seed=0 tau_d=99] failed again: {why}") == 1
    assert "1 trial(s) failed twice" in err and f"seed=0 tau_d=99] {why}" in err and "Traceback" not in err


LOCAL_ONLY = """
import sys
from vdib_core.experiments import cli
code = cli.main(["sweep", "predictive-coding", "--out", sys.argv[1], "--quick", "--epochs=1", "--n-train=16",
                 "--t-train=12", "--t-test=30", "--n-draws=1", "--seed=0,1"])
assert code == 0, code
assert "ray" not in sys.modules, "the local backend imported ray"
sys.modules["ray"] = None  # now as if Ray were not installed
code = cli.main(["sweep", "predictive-coding", "--out", sys.argv[1], "--seed=0", "--backend", "ray"])
print("exit", code)
"""


def test_the_local_backend_never_imports_ray_and_a_missing_ray_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(LOCAL_ONLY), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "exit 2"
    err = [ln for ln in done.stderr.splitlines() if ln.startswith("vdib sweep:")]
    assert err == ["vdib sweep: error: --backend ray needs Ray: pip install 'vdib_core[cluster]'"]
    assert len(list(Path(tmp_path).glob("*.json"))) == 2


@pytest.mark.parametrize("args, message", [
    (["--backend", "slurm"], "--backend must be local or ray"),
    (["--address", "auto"], "--address is for --backend ray"),
    (["--backend", "ray", "--cpus-per-trial", "two"], "--cpus-per-trial expects a number"),
    (["--backend", "ray", "--gpus-per-trial", "-1"], "--gpus-per-trial >= 0"),
])
def test_bad_backend_options_get_one_line_and_exit_2(tmp_path, capsys, args, message):
    assert vdib("sweep", "predictive-coding", "--out", tmp_path, "--seed=0", *args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
