"""The Colab path of the chapters, tested as far as it can be offline.

Every chapter starts with a set-up block (written by book/sync_repository.py from _config.yml) that runs
only in Colab (``"google.colab" in sys.modules``): it shallow-clones the book's repository at the book's
ref, installs vdib_core from the clone with ``--no-deps`` (Colab's torch stays), and runs the chapter in
the clone's book/ folder, so that the package, book/results and the MNIST evaluator come from one commit.

The slow test rebuilds that situation on this machine:
  - a local git repository (a copy of this checkout's files, committed on the book's branch) stands in for
    the remote (``VDIB_REPOSITORY``);
  - a fresh virtual environment with the pinned requirements but without vdib_core;
  - a stub ``google.colab`` module imported at interpreter start (the kernel's too);
  - the chapters alone in a folder, as Colab opens them.
Chapter 1 then runs in quick mode, and chapters 5-8 run their set-up cell, which must report
"full-scale results: found". Then ipywidgets 7 (Colab's long-time version, no ``Stack``) replaces 8 and
chapter 1, whose panels are sliders over frames, runs again, on the callback fallback; a small script
checks that moving a control swaps the image with either version.

pip installs from the package index configured on the machine (and reuses pip's cache); the chapter reads
MNIST from the existing data cache (no dataset download). About 4-6 minutes on 2 cores, most of it
installing the pinned requirements. Set VDIB_SKIP_COLAB_TEST=1 to skip it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
IPYWIDGETS_7 = "ipywidgets==7.8.5"  # the last 7.x (no Stack); it works with the pinned ipykernel


def _setup_cell(chapter: Path) -> str:
    cells = json.loads(chapter.read_text())["cells"]
    return next("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_every_setup_cell_clones_the_repository_of_config_yml_and_keeps_colab_torch():
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    url, ref = repo["url"].rstrip("/"), repo["branch"]
    assert CHAPTERS
    for chapter in CHAPTERS:
        cell = _setup_cell(chapter)
        assert 'if "google.colab" in sys.modules:' in cell, chapter.name
        assert f'REPOSITORY, REF = "{url}", "{ref}"' in cell, chapter.name
        assert '"clone", "-q", "--depth", "1", "--branch", REF' in cell, chapter.name
        assert '"--no-deps", "-e", checkout' in cell, chapter.name  # never replaces the runtime's torch
        assert "torch" not in cell.split("# ---- end of the Colab set-up ----")[0].replace("torch, with CUDA", ""), \
            chapter.name
        meta = json.loads(chapter.read_text())["metadata"]
        assert meta["accelerator"] == "GPU" and meta["colab"]["gpuType"], chapter.name  # asks Colab for a GPU


def test_every_chapter_picks_the_gpu_when_there_is_one():
    for chapter in CHAPTERS:
        code = "\n".join("".join(c["source"]) for c in json.loads(chapter.read_text())["cells"]
                         if c["cell_type"] == "code")
        assert "pick_device()" in code or "run(" in code or "sweep(" in code, chapter.name
        assert 'device="cpu"' not in code, f"{chapter.name}: a hard-coded CPU"


def _run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
if len(sys.argv) > 3:  # only the set-up cell (the first code cell)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells = nb.cells[:first + 1]
NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[1])
"""

PANELS = """
import os, sys
sys.path.insert(0, sys.argv[1])  # the clone, as the chapters' set-up does
import ipywidgets, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from vdib_core.widgets import figure_png, frame_panel, frame_slider, has_stack

def png(k):
    fig, ax = plt.subplots(figsize=(1, 1)); ax.plot([0, 1], [0, k]); out = figure_png(fig); plt.close(fig); return out

major = int(ipywidgets.__version__.split(".")[0])
assert has_stack() == (major >= 8), (ipywidgets.__version__, has_stack())
frames = {f"k{k}": png(k) for k in range(3)}
box = frame_slider(frames, "k")
grid = {(a, b): png(10 * a + len(b)) for a in (1, 2) for b in ("x", "yy")}
panel = frame_panel(grid, [("a", [1, 2]), ("b", ["x", "yy"])])
if major < 8:  # one image, swapped by a callback
    slider, image = box.children
    slider.index = 2
    assert bytes(image.value) == frames["k2"]
    view = panel.children[-1].children[0]
    panel.controls[0].index, panel.controls[1].index = 1, 1
    assert bytes(view.value) == grid[(2, "yy")]
else:  # Stacks linked in the browser
    assert isinstance(box.children[1], ipywidgets.Stack) and panel.links
print("panels OK with ipywidgets", ipywidgets.__version__)
"""


def _outputs(chapter: Path) -> list[dict]:
    cells = json.loads(chapter.read_text())["cells"]
    return [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]]


@pytest.mark.skipif(os.environ.get("VDIB_SKIP_COLAB_TEST") == "1", reason="VDIB_SKIP_COLAB_TEST=1")
def test_chapters_run_in_colab_from_a_clone_at_the_books_ref(tmp_path):
    ref = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["branch"]
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    git_env = dict(clean, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@t")

    # 1. the remote: this checkout's files (tracked and new, not ignored), committed on the book's branch
    remote = tmp_path / "remote"
    files = _run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (remote / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, remote / name)
    _run(["git", "init", "-q", "-b", ref], cwd=remote, env=git_env)
    _run(["git", "add", "-A"], cwd=remote, env=git_env)
    _run(["git", "commit", "-q", "-m", "the book"], cwd=remote, env=git_env)

    # 2. a fresh environment with the pinned requirements, without vdib_core
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], env=clean)
    py = str(venv / "bin" / "python")
    _run([py, "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements.txt")], env=clean, cwd=tmp_path)
    missing = subprocess.run([py, "-c", "import vdib_core"], capture_output=True, text=True, cwd=tmp_path, env=clean)
    assert missing.returncode != 0 and "No module named 'vdib_core'" in missing.stderr

    # 3. google.colab, imported at start-up of every interpreter of the environment (the kernel too)
    stub = tmp_path / "stub"
    (stub / "google" / "colab").mkdir(parents=True)
    (stub / "google" / "__init__.py").write_text("")
    (stub / "google" / "colab" / "__init__.py").write_text('"""Stand-in for Colab\'s module (test only)."""\n')
    (stub / "sitecustomize.py").write_text("import google.colab  # noqa: F401  (what Colab has imported)\n")

    # 4. the chapters alone in a folder (Colab's /content), quick mode, the remote = the local repository
    content = tmp_path / "content"
    content.mkdir()
    env = dict(clean)
    env.update(PYTHONPATH=str(stub), VDIB_QUICK="1", MPLBACKEND="Agg", VDIB_REPOSITORY=f"file://{remote}",  # file://: a real (shallow) fetch
               PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    env.pop("VDIB_CHECKOUT", None)

    def run_chapter(name: str, setup_only: bool = False) -> Path:
        chapter = content / name
        chapter.write_text((ROOT / "book" / name).read_text())
        _run([py, "-c", RUNNER, str(chapter), str(content), *(["setup-only"] if setup_only else [])],
             cwd=content, env=env, timeout=1500)
        assert not [o for o in _outputs(chapter) if o["output_type"] == "error"], name
        return chapter

    chapter = run_chapter("01_spikes.ipynb")
    first = next(c for c in json.loads(chapter.read_text())["cells"] if c["cell_type"] == "code")
    first_output = "".join("".join(o.get("text", "")) for o in first["outputs"])
    assert "vdib_core 0.1.0, quick mode: True" in first_output, first_output
    clone = content / "vdib-book"
    assert (clone / ".git").is_dir() and (clone / "book" / "results").is_dir()
    shallow = _run(["git", "rev-parse", "--is-shallow-repository"], cwd=clone).strip()
    assert shallow == "true"
    # the package comes from the clone (editable), not from a copy in site-packages
    where = _run([py, "-c", "import vdib_core; print(vdib_core.__file__)"], cwd=tmp_path, env=env).strip()
    assert Path(where).resolve().is_relative_to(clone.resolve()), where
    evaluator = _run([py, "-c", "from vdib_core.experiments.evaluator import default_path; print(default_path())"],
                     cwd=tmp_path, env=env).strip()
    assert Path(evaluator).resolve() == (clone / "book" / "results" / "mnist" / "evaluator.pt").resolve()
    assert Path(evaluator).is_file()

    # 5. chapters 5-8 find the book's own full-scale results in the clone
    for name in ("05_predictive_coding.ipynb", "06_mnist.ipynb", "07_mnist_dvs.ipynb", "08_playground.ipynb"):
        chapter = run_chapter(name, setup_only=True)
        text = "".join("".join(o.get("text", "")) for o in _outputs(chapter))
        assert "full-scale results: found" in text, (name, text)

    # 6. panels: ipywidgets 8 (Stacks), then ipywidgets 7 (no Stack: a callback swaps one image), where
    #    chapter 1 runs again
    assert "panels OK with ipywidgets 8" in _run([py, "-c", PANELS, str(clone)], cwd=tmp_path, env=env)
    _run([py, "-m", "pip", "install", "-q", IPYWIDGETS_7], env=clean, cwd=tmp_path)
    assert "panels OK with ipywidgets 7" in _run([py, "-c", PANELS, str(clone)], cwd=tmp_path, env=env)
    run_chapter("01_spikes.ipynb")
