"""The Colab path of the chapters, tested as far as it can be offline.

Every chapter starts with an install cell that runs only in Colab (``"google.colab" in sys.modules``) and
pip-installs vdib_core from the book's repository, the URL in _config.yml. The slow test rebuilds that
situation on this machine: a wheel of vdib_core, a fresh virtual environment with the pinned
requirements but without vdib_core, a stub ``google.colab`` module imported at interpreter start, and
the install target pointed at the wheel (``VDIB_INSTALL_TARGET``). Chapter 1 then runs in quick mode in
that environment, and its own Colab branch must install the package for the chapter to run at all.

pip installs from the package index configured on the machine (and reuses pip's cache); the chapter
reads MNIST from the existing data cache (no dataset download). About 2-3 minutes on 2 cores, most of it
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


def _install_cell(chapter: Path) -> str:
    cells = json.loads(chapter.read_text())["cells"]
    return next("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_every_install_cell_uses_the_repository_of_config_yml():
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    assert CHAPTERS
    for chapter in CHAPTERS:
        cell = _install_cell(chapter)
        assert 'if "google.colab" in sys.modules' in cell, chapter.name
        assert f'os.environ.get("VDIB_INSTALL_TARGET", "git+{url}")' in cell, (
            f"{chapter.name}: the install cell must install git+{url} (the repository URL of _config.yml)")


def _run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[1])
"""


@pytest.mark.skipif(os.environ.get("VDIB_SKIP_COLAB_TEST") == "1", reason="VDIB_SKIP_COLAB_TEST=1")
def test_chapter_1_installs_vdib_core_through_its_colab_branch(tmp_path):
    # 1. a wheel of vdib_core (no build isolation: setuptools comes from the current environment), built
    #    from a copy of the package so that setuptools' build/ and egg-info never land in the checkout
    src = tmp_path / "src"
    shutil.copytree(ROOT / "vdib_core", src / "vdib_core", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
          str(src)], cwd=tmp_path)
    (wheel,) = wheels.glob("vdib_core-*.whl")

    # 2. a fresh environment with the pinned requirements, without vdib_core (and without this
    #    checkout on PYTHONPATH, as the tests of the repository may be run with it)
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
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

    # 4. chapter 1, alone in a folder (no repository on sys.path), quick mode, install target = the wheel
    work = tmp_path / "book"
    work.mkdir()
    chapter = work / "01_spikes.ipynb"
    chapter.write_text((ROOT / "book" / "01_spikes.ipynb").read_text())
    env = dict(clean)
    env.update(PYTHONPATH=str(stub), VDIB_QUICK="1", MPLBACKEND="Agg", VDIB_INSTALL_TARGET=str(wheel),
               PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    _run([py, "-c", RUNNER, str(chapter), str(work)], cwd=work, env=env, timeout=1500)

    # the chapter ran to the end, with the package its Colab branch installed into the environment
    cells = json.loads(chapter.read_text())["cells"]
    assert not [o for c in cells if c["cell_type"] == "code" for o in c["outputs"] if o["output_type"] == "error"]
    first_output = "".join(cells[1]["outputs"][-1].get("text", ""))
    assert "vdib_core 0.1.0, quick mode: True" in first_output, first_output
    where = _run([py, "-c", "import vdib_core; print(vdib_core.__file__)"], cwd=tmp_path, env=env).strip()
    assert Path(where).is_relative_to(venv), where
