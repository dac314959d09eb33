"""The throughput benchmark runs and prints its documented JSON interface (its stable interface).
It also checks, inside, that its naive batch-1 loop computes the same logits and outputs as vdib_core."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_throughput_json_interface():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--json", "--rounds", "1",
                           "--naive-examples", "1"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("samples_per_s", "gflops_per_s", "roofline_gflops_per_s", "naive_samples_per_s",
                "snntorch_samples_per_s"):
        assert result[key] > 0, key
    assert abs(result["gflop_per_sample"] - 0.414) < 0.01  # measured: ≈ 0.42 GFLOP per training sample
    # the predictive-coding model against the pre-issue-14 reference; speedups are not asserted (noisy timings)
    for key in ("encoder_speedup", "linear_step_speedup", "mlp_step_speedup", "linear_step_bound", "mlp_step_bound",
                "samples_per_s", "reference_samples_per_s"):
        assert result["small"][key] > 0, key
    # the two ratios of the speed target (encoder forward + backward, linear-decoder step), at the top level
    for key in ("small_encoder_fwd_bwd_speedup", "small_linear_step_speedup"):
        assert result[key] > 0, key
