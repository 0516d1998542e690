"""Run a chapter notebook with each hidden solution called right after its cell (shared by the check tests)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOLUTION = re.compile(r"^def (solution_(\d+)_(\d+))\(\):", re.M)
CHECKED = re.compile(r'EXERCISES\["(\w+)"\]\.check')


def run_with_solutions(name: str, tmp_path: Path) -> dict[str, bool]:
    """Execute notebook ``name`` calling every solution_N_M(); returns {"N.M": check passed}."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        found = SOLUTION.search(cell.source) if cell.cell_type == "code" else None
        if found:
            key = CHECKED.search(cell.source).group(1)
            number = f"{found.group(2)}.{found.group(3)}"
            report = f"print('SOLUTION', {json.dumps(number)}, EXERCISES[{json.dumps(key)}].attempts[-1].ok)"
            cells.append(nbformat.v4.new_code_cell(f"{found.group(1)}()\n{report}"))
    nb.cells = cells
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    env = dict(os.environ, MPLBACKEND="Agg", SIMLAB_NOTEBOOK_TMP=str(tmp_path))
    client.km_kwargs = {"env": env}  # type: ignore[attr-defined]
    client.execute()
    passed: dict[str, bool] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out.get("evalue")
            for line in out.get("text", "").splitlines():
                if line.startswith("SOLUTION "):
                    _, number, ok = line.split()
                    passed[number] = ok == "True"
    return passed
