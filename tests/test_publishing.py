"""Publishing: the fixed points of the GitHub Pages workflow, and one setting naming the repository.

.ci/test also validates the workflow against the GitHub-workflow JSON schema (check-jsonschema) and
audits it (zizmor --offline); this file checks what those cannot know: that it builds with the
README's command, deploys only from the publishing branch, with the least permissions, pinned actions,
and that every file naming the repository agrees with _config.yml.
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
SHA = re.compile(r"[0-9a-f]{40}")

spec = importlib.util.spec_from_file_location("sync_repository", ROOT / "book" / "sync_repository.py")
sync_repository = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sync_repository)


def workflow() -> dict:
    wf = yaml.safe_load(WORKFLOW.read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as true
    return wf


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def test_the_workflow_builds_with_ci_book_and_deploys_build_html_from_the_publishing_branch():
    wf = workflow()
    branch = CONFIG["repository"]["branch"]
    assert wf["on"]["push"]["branches"] == [branch] and "pull_request" in wf["on"]
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    runs = [s["run"] for s in steps(build) if "run" in s]
    assert runs == ["bash .ci/book"]  # the build logic stays in .ci/book
    upload = next(s for s in steps(build) if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert [s["uses"].split("@")[0] for s in steps(deploy)] == ["actions/deploy-pages"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    # pull requests build only: the upload and the deploy are both skipped for them, and only the
    # publishing branch deploys
    for condition in (upload["if"], deploy["if"]):
        assert "github.event_name != 'pull_request'" in condition and f"refs/heads/{branch}" in condition


def test_the_workflow_has_the_least_permissions_and_a_concurrency_group():
    wf = workflow()
    assert wf["permissions"] == {"contents": "read"}
    assert "permissions" not in wf["jobs"]["build"]  # the top level's read-only
    assert wf["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert wf["concurrency"]["group"]


def test_every_action_is_pinned_by_commit_sha():
    wf = workflow()
    uses = [s["uses"] for job in wf["jobs"].values() for s in steps(job) if "uses" in s]
    assert len(uses) >= 4
    for use in uses:
        name, _, ref = use.partition("@")
        assert SHA.fullmatch(ref), f"{use}: pin actions by a 40-hex commit SHA"
    checkout = next(s for s in steps(wf["jobs"]["build"]) if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False  # no token left in .git for the build's code


def test_the_repository_is_named_in_one_place_and_everything_derived_agrees():
    url, branch = sync_repository.repository()
    assert url == CONFIG["repository"]["url"].rstrip("/")
    assert sync_repository.sync(check=True) == [], "run: .venv/bin/python book/sync_repository.py"
    # the derived files hold the address; no other tracked file names it by hand
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    derived = {"_config.yml", "README.md", *(f"book/{p.name}" for p in sync_repository.chapters())}
    owner_name = url.removeprefix("https://github.com/")
    naming = {p for p in tracked if (ROOT / p).is_file() and not p.startswith("book/results/")
              and (ROOT / p).suffix in (".py", ".md", ".yml", ".yaml", ".ipynb", ".txt", ".toml", ".cfg", "")
              and owner_name in (ROOT / p).read_text(errors="replace")}
    assert naming <= derived, naming - derived
    for chapter in sync_repository.chapters():
        first = next(c for c in json.loads(chapter.read_text())["cells"] if c["cell_type"] == "code")
        assert "".join(first["source"]).startswith(sync_repository.setup_block(chapter.stem, url, branch)), chapter.name
    assert f"colab.research.google.com/github/{owner_name}/blob/{branch}/book/01_spikes.ipynb" in \
        (ROOT / "README.md").read_text()
    # the launch buttons: Jupyter Book builds them from repository.url and launch_buttons
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["html"]["use_repository_button"] is True


def test_sync_repository_rewrites_a_changed_address(tmp_path):
    # the first cell of a chapter as the script writes it, for another repository and ref
    block = sync_repository.setup_block("06_mnist", "https://github.com/someone/fork", "pages")
    old = sync_repository.setup_block("06_mnist", *sync_repository.repository())
    cell = old + "\nimport torch\n"
    new = sync_repository.synced_cell(cell, "06_mnist", "https://github.com/someone/fork", "pages")
    assert new == block + "\nimport torch\n"
    assert 'REPOSITORY, REF = "https://github.com/someone/fork", "pages"' in new
    assert "--no-deps" in new and "scikit-learn" not in new
    assert '"scikit-learn"' in sync_repository.setup_block("07_mnist_dvs", "https://github.com/a/b", "main")


def test_the_publishing_page_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    assert "file: book/publishing" in toc and (ROOT / "book" / "publishing.md").is_file()
    text = (ROOT / "book" / "publishing.md").read_text()
    for step in ("repository.url", "Settings → Pages", "GitHub Actions", "push"):
        assert step in text, step


def test_check_offline_script_is_run_by_ci_for_the_renamed_chapters():
    run = (ROOT / ".ci" / "run").read_text()
    for page in ("05_predictive_coding", "06_mnist", "07_mnist_dvs", "08_playground"):
        assert f"--require-table book/{page}.html" in run
        assert (ROOT / "book" / f"{page}.ipynb").is_file()
        assert f"file: book/{page}" in (ROOT / "_toc.yml").read_text()
    assert sys.version_info >= (3, 9)
