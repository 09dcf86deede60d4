#!/usr/bin/env python3
"""Write the set-up cell into every notebook under notebooks/, right after its parameters cell.

    python tools/setup_cell.py

The cell is the one way in for a kernel where the project is not importable (Colab, a
notebook copied elsewhere): it installs the project there with pip, and does nothing where
lib already imports. Its text lives here, once; a notebook that lacks the cell gets it, one
whose copy differs gets this one, and tests/test_install.py checks that they agree.
"""

import json
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_ID = "setup"
# The default source: the folder `git clone <repository URL> char-rnn-notebooks` makes in the
# kernel's working folder (README: Colab). A path, never a bare name: pip looks a bare name up on
# the package index, even where a folder of that name is beside the notebook.
DEFAULT_SOURCE_LINE = 'project_source = "./char-rnn-notebooks"'

SOURCE = f'''\
# Set-up: makes the project's `lib` importable here. In a clone of the repository, or with the
# project installed (`pip install .`), it already is and this cell does nothing. In Colab or
# any other kernel without it, it installs the project into this kernel with pip, from
# project_source: a clone's folder, or the repository's git address, "git+https://...". The
# package needs no Jupyter package, so the kernel keeps its own (README: Colab).
import importlib.util
from pathlib import Path

{DEFAULT_SOURCE_LINE}


def project_importable():
    try:
        return importlib.util.find_spec("lib.rnn") is not None
    except ImportError:  # no package named lib at all
        return False


def pip_source(source):
    """A git address as it is, a clone's folder as its full path (pip looks names up on PyPI)."""
    if source.startswith(("git+", "https://")):
        return source
    folder = Path(source).expanduser().resolve()
    if not (folder / "pyproject.toml").is_file():
        raise FileNotFoundError(f"project_source = {{source!r}}: no clone of the repository at "
                                f"{{folder}} (git clone it there, or give git+https://<its address>)")
    return str(folder)


if not project_importable():
    install_from = pip_source(project_source)
    %pip install --quiet "{{install_from}}"
    importlib.invalidate_caches()
    if not project_importable():
        raise ImportError(f"the project is not installed: pip could not install project_source = "
                          f"{{project_source!r}} (a clone's folder, or git+https://<its address>)")'''


def setup_cell():
    lines = SOURCE.split("\n")
    return {"cell_type": "code", "execution_count": None, "id": CELL_ID, "metadata": {}, "outputs": [],
            "source": [line + "\n" for line in lines[:-1]] + lines[-1:]}


def place_setup_cell(notebook):
    """Put the set-up cell right after notebook's parameters cell; True if the file changed."""
    notebook = Path(notebook)
    before = notebook.read_text(encoding="utf-8")
    nb = json.loads(before)
    cells = [cell for cell in nb["cells"] if cell.get("id") != CELL_ID]
    tagged = [i for i, cell in enumerate(cells) if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise SystemExit(f"error: {notebook} has {len(tagged)} cells tagged parameters, not one")
    cells.insert(tagged[0] + 1, setup_cell())
    nb["cells"] = cells
    after = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if after == before:
        return False
    notebook.write_text(after, encoding="utf-8")
    return True


def main():
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        if place_setup_cell(notebook):
            print(f"wrote the set-up cell into {notebook.relative_to(NOTEBOOKS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
