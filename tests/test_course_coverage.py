"""Every concept 1-43 is explained (a markdown cell tagged concept-N) and then demonstrated live.

"Demonstrated" means: between the tagged explanation and the next concept's explanation there is
at least one code cell that calls into simlab (a call, not only an import or an assignment of text).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from simlab.course import CONCEPTS, tag

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHAPTERS = {1: "01-email-and-postfix.ipynb", 2: "02-prerequisites.ipynb",
            3: "03-postfix-architecture.ipynb", 4: "04-configuration-and-administration.ipynb"}
CALL = re.compile(r"\w\s*\(")


def drives_simulator(source: str) -> bool:
    code = "\n".join(ln for ln in source.splitlines() if not ln.strip().startswith(("#", "import ", "from ")))
    return bool(CALL.search(code))


def concept_sections(path: Path) -> dict[int, list[str]]:
    """concept number -> the code cells that follow its explanation."""
    nb = nbformat.read(path, as_version=4)
    out: dict[int, list[str]] = {}
    current: list[int] = []
    for cell in nb.cells:
        tags = [t for t in cell.get("metadata", {}).get("tags", []) if t.startswith("concept-")]
        if cell.cell_type == "markdown" and tags:
            current = [int(t.split("-", 1)[1]) for t in tags]
            for n in current:
                out.setdefault(n, [])
        elif cell.cell_type == "code":
            for n in current:
                out[n].append(cell.source)
    return out


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_chapter_explains_and_demonstrates_each_of_its_concepts(chapter: int) -> None:
    path = NOTEBOOKS / CHAPTERS[chapter]
    assert path.exists(), f"{path.name} is missing"
    sections = concept_sections(path)
    missing = [n for n, c in CONCEPTS.items() if c.chapter == chapter and n not in sections]
    assert not missing, f"{path.name}: no markdown cell tagged {[tag(n) for n in missing]}"
    undemonstrated = [n for n, cells in sections.items()
                      if CONCEPTS[n].chapter == chapter and not any(drives_simulator(s) for s in cells)]
    assert not undemonstrated, f"{path.name}: concepts explained but never run: {undemonstrated}"


def test_drives_simulator_heuristic() -> None:
    assert drives_simulator("net.run()")
    assert not drives_simulator("import simlab\n# net.run()")
