#!/usr/bin/env python3
"""Write what follows from the repository's address into the files that need it.

The address of the book's repository lives in one place: `repository.url` (and the branch the book is
published from, `repository.branch`) in _config.yml. Jupyter Book derives the launch buttons (Colab,
Binder, GitHub) from it. This script derives the rest:
  - the Colab set-up at the top of every chapter's first code cell (clone the repository at that branch,
    install vdib_core from the clone without touching Colab's torch, read book/results from the clone),
    and the notebook metadata that asks Colab for a GPU runtime;
  - the links block of README.md (the site and "open in Colab" for every chapter).

    .venv/bin/python book/sync_repository.py          # rewrite them after changing _config.yml
    .venv/bin/python book/sync_repository.py --check  # exit 1 if any of them is out of date (tests do this)

Only the marked set-up block of a first cell is rewritten (the rest of the cell is the chapter's own).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
BEGIN = "# ---- Colab set-up (written by book/sync_repository.py from _config.yml; edit there) ----"
END = "# ---- end of the Colab set-up ----"
README_BEGIN = "<!-- links: written by book/sync_repository.py from _config.yml -->"
README_END = "<!-- end of links -->"

# What a chapter needs on top of Colab's own packages (installed without -U: present versions stay).
EXTRAS = {"07_mnist_dvs": ["scikit-learn"]}

# Colab: ask for a GPU runtime when the notebook is opened (a chapter runs on the CPU too).
COLAB_METADATA = {"accelerator": "GPU", "colab": {"gpuType": "T4", "provenance": []}}


def repository() -> tuple[str, str]:
    """(url without a trailing slash, branch) from _config.yml."""
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    url = str(repo["url"]).rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise SystemExit(f"sync_repository: repository.url in _config.yml must be https://github.com/OWNER/NAME, got {url!r}")
    return url, str(repo.get("branch") or "main")


def chapters() -> list[Path]:
    return sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))


def setup_block(chapter: str, url: str, ref: str) -> str:
    extras = EXTRAS.get(chapter, [])
    install_extras = (
        f'    subprocess.run([sys.executable, "-m", "pip", "install", "-q", {", ".join(map(repr, extras))}], check=True)\n'
        .replace("'", '"') if extras else "")
    return (
        f"{BEGIN}\n"
        "# In Colab: fetch the book's repository at the book's own ref (a shallow clone), so that the package,\n"
        "# the full-scale results (book/results) and the MNIST evaluator come from one commit; install the\n"
        "# package from it without its dependencies (Colab's torch, with CUDA, stays); run in its book/ folder.\n"
        "import os, subprocess, sys\n"
        f'REPOSITORY, REF = "{url}", "{ref}"\n'
        'if "google.colab" in sys.modules:\n'
        '    checkout = os.environ.setdefault("VDIB_CHECKOUT", os.path.abspath("vdib-book"))\n'
        '    if not os.path.isdir(os.path.join(checkout, ".git")):  # once per runtime\n'
        '        subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", REF,\n'
        '                        os.environ.get("VDIB_REPOSITORY", REPOSITORY), checkout], check=True)\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", checkout], check=True)\n'
        f"{install_extras}"
        "    sys.path.insert(0, checkout)  # this kernel started before the install: let it import the clone\n"
        '    os.chdir(os.path.join(checkout, "book"))\n'
        f"{END}\n"
    )


OLD_BLOCK = re.compile(  # the set-up before this script existed: `pip install git+URL`
    r"\Aimport os, subprocess, sys\nif \"google\.colab\" in sys\.modules:.*?check=True\)[^\n]*\n", re.S)


def synced_cell(source: str, chapter: str, url: str, ref: str) -> str:
    block = setup_block(chapter, url, ref)
    if BEGIN in source:
        start, end = source.index(BEGIN), source.index(END) + len(END) + 1
        return source[:start] + block + source[end:]
    if OLD_BLOCK.match(source):
        return OLD_BLOCK.sub(lambda _: block, source, count=1)
    return block + "\n" + source


def readme_block(url: str, ref: str) -> str:
    owner, name = url.removeprefix("https://github.com/").split("/")
    site = f"https://{owner.lower()}.github.io/{name}/"
    lines = [README_BEGIN, "", f"The published book: <{site}> (built and deployed from `{ref}` by "
             "`.github/workflows/book.yml`; see `book/publishing.md`).", "",
             "Open a chapter in Colab (it fetches this repository and its committed results itself):", ""]
    for chapter in chapters():
        title = next((c["source"] for c in json.loads(chapter.read_text())["cells"] if c["cell_type"] == "markdown"), [""])
        heading = "".join(title).splitlines()[0].lstrip("# ").strip() if title else chapter.stem
        lines.append(f"- [{heading}](https://colab.research.google.com/github/{owner}/{name}/blob/{ref}/book/{chapter.name})")
    return "\n".join(lines + ["", README_END])


def sync(check: bool) -> list[str]:
    """Rewrite (or, with check, only compare) every derived file; returns the paths that were out of date."""
    url, ref = repository()
    stale = []
    for chapter in chapters():
        text = chapter.read_text()
        nb = json.loads(text)
        cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        new = synced_cell(source, chapter.stem, url, ref)
        lines = new.splitlines(keepends=True)
        changed = new != source
        if changed:
            cell["source"] = lines
        for key, value in COLAB_METADATA.items():
            if nb["metadata"].get(key) != value:
                nb["metadata"][key] = value
                changed = True
        if changed:
            stale.append(str(chapter.relative_to(ROOT)))
            if not check:
                chapter.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    readme = ROOT / "README.md"
    text = readme.read_text()
    block = readme_block(url, ref)
    if README_BEGIN in text:
        new = text[:text.index(README_BEGIN)] + block + text[text.index(README_END) + len(README_END):]
    else:  # first time: after the introduction, before "## The two commands"
        new = text.replace("## The two commands", block + "\n\n## The two commands", 1)
    if new != text:
        stale.append("README.md")
        if not check:
            readme.write_text(new)
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    args = parser.parse_args()
    stale = sync(args.check)
    for path in stale:
        print(f"{'out of date' if args.check else 'rewritten'}: {path}")
    if args.check and stale:
        print("run: .venv/bin/python book/sync_repository.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
