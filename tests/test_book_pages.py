"""Pages that read like a book: the chapters fold their plumbing (set-up, plotting, bookkeeping) with
cell tags, keep labels legible, and their file names follow the table of contents."""
import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
FOLDED = {"hide-input", "remove-input"}
PENDING: set[str] = set()  # chapters exempt from the folding checks while they are rewritten (none now)


def code_cells(chapter: Path) -> list[dict]:
    return [c for c in json.loads(chapter.read_text())["cells"] if c["cell_type"] == "code"]


def test_chapter_files_follow_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"] if re.match(r"book/\d\d_", c["file"])]
    assert files == [f"book/{p.stem}" for p in CHAPTERS]  # numbered in the order they are read


def test_set_up_and_parameter_tables_are_folded():
    for chapter in CHAPTERS:
        if chapter.stem in PENDING:
            continue
        cells = code_cells(chapter)
        assert FOLDED & set(cells[0]["metadata"].get("tags", [])), f"{chapter.name}: set-up cell not folded"
        for cell in cells:
            source = "".join(cell["source"])
            if 'display(Markdown("| parameter | default |' in source:
                assert FOLDED & set(cell["metadata"].get("tags", [])), chapter.name
        shown = sum(len("".join(c["source"]).splitlines()) for c in cells
                    if not FOLDED & set(c["metadata"].get("tags", [])))
        total = sum(len("".join(c["source"]).splitlines()) for c in cells)
        assert shown < 0.8 * total, f"{chapter.name}: {shown} of {total} code lines shown"


def test_no_label_below_8_pt():
    for chapter in CHAPTERS:
        if chapter.stem in PENDING:
            continue
        for cell in code_cells(chapter):
            small = re.findall(r"fontsize=([0-7])\b", "".join(cell["source"]))
            assert not small, f"{chapter.name}: fontsize {small}"
