"""The project installed as a package: where its files go, and its notebooks run in any folder.

The slow tests build what a student gets from a plain ``pip install .``: a fresh venv, the
lock installed into it (uv, from the wheel cache that make install filled, when it is there),
then the project from a git clone of this repository, not editable. The clone is of the
committed state, so commit before trusting them.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ENGLISH_TEXT, load_script
from lib import paths

NOTEBOOKS = paths.REPO_ROOT / "notebooks"
BIN = "Scripts" if os.name == "nt" else "bin"


# ----------------------------------------------------------------- where the project folder is

def _make_clone(folder):
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "rnn.py").write_text("", encoding="utf-8")
    (folder / "pyproject.toml").write_text('[project]\nname = "char-rnn-notebooks"\n', encoding="utf-8")
    return folder


def test_lib_in_a_clone_keeps_its_files_in_that_clone_wherever_it_runs(tmp_path):
    clone = _make_clone(tmp_path / "clone")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = paths.find_project_root(clone / "lib", elsewhere, {paths.HOME_ENV: str(elsewhere)})
    assert found == clone.resolve()
    assert paths.PROJECT_ROOT == paths.REPO_ROOT and paths.is_clone(paths.REPO_ROOT)


def test_an_installed_lib_keeps_its_files_in_the_working_folder_or_the_clone_around_it(tmp_path):
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "lib").mkdir(parents=True)
    work = tmp_path / "work" / "notebooks"
    work.mkdir(parents=True)
    assert paths.find_project_root(site / "lib", work, {}) == work.resolve()
    # A notebook in a clone's notebooks/ folder, the project installed without -e: the clone's data/ and runs/.
    clone = _make_clone(tmp_path / "clone")
    (clone / "notebooks").mkdir()
    assert paths.find_project_root(site / "lib", clone / "notebooks", {}) == clone.resolve()
    # A folder that merely has a pyproject.toml of another project is not a clone.
    (tmp_path / "work" / "pyproject.toml").write_text('[project]\nname = "other"\n', encoding="utf-8")
    assert paths.find_project_root(site / "lib", work, {}) == work.resolve()
    chosen = tmp_path / "drive" / "char-rnn"
    assert paths.find_project_root(site / "lib", work, {paths.HOME_ENV: str(chosen)}) == chosen.resolve()


# ----------------------------------------------------------------- the set-up cell

# tools/setup_cell.py: the one place the set-up cell's text is written.
setup_tool = load_script(paths.REPO_ROOT / "tools" / "setup_cell.py", "setup_cell_tool")


def setup_cell(notebook):
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    return next(cell for cell in cells if cell.get("id") == setup_tool.CELL_ID)


def test_every_notebook_has_the_setup_cell_right_after_its_parameters():
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert len(notebooks) >= 4
    for notebook in notebooks:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        at = [i for i, cell in enumerate(cells) if "parameters" in cell["metadata"].get("tags", [])][0]
        assert cells[at + 1].get("id") == setup_tool.CELL_ID and "".join(cells[at + 1]["source"]) == \
            setup_tool.SOURCE, f"{notebook.name}: no set-up cell after the parameters, or another text: " \
                               "python tools/setup_cell.py writes it"


def test_the_setup_tool_adds_the_cell_where_it_is_missing_and_changes_nothing_twice(tmp_path):
    nb = json.loads((NOTEBOOKS / "train.ipynb").read_text(encoding="utf-8"))
    nb["cells"] = [cell for cell in nb["cells"] if cell.get("id") != setup_tool.CELL_ID]
    bare = tmp_path / "bare.ipynb"
    bare.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert setup_tool.place_setup_cell(bare) is True
    assert bare.read_text(encoding="utf-8") == (NOTEBOOKS / "train.ipynb").read_text(encoding="utf-8")
    assert setup_tool.place_setup_cell(bare) is False


# ----------------------------------------------------------------- a plain pip install . from a clone

def _clean_environment(venv):
    """os.environ without this test run's venv, PYTHONPATH or project folder, the new venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", paths.HOME_ENV)}
    env["PATH"] = str(venv / BIN) + os.pathsep + env.get("PATH", "")
    return env


def _run(command, cwd, env, timeout=600):
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, command))}:\n{(result.stderr + result.stdout)[-3000:]}"
    return result


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    """(root, clone, venv python, env): a git clone of this repository and a venv holding only the lock."""
    root = tmp_path_factory.mktemp("installed")
    clone, venv = root / "clone", root / "venv"
    env = _clean_environment(venv)
    _run(["git", "clone", "--quiet", paths.REPO_ROOT, clone], root, env)
    _run([sys.executable, "-m", "venv", venv], root, env)
    python = venv / BIN / ("python.exe" if os.name == "nt" else "python")
    uv = paths.REPO_ROOT / "build" / "uv" / "bin" / "uv"
    if uv.is_file():
        _run([uv, "pip", "install", "--quiet", "--python", python, "--require-hashes", "-r",
              clone / "requirements.lock"], root, env)
    else:
        _run([python, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", clone / "requirements.lock"],
             root, env)
    return root, clone, python, env


def _installed_lib(python, cwd, env):
    """(where lib imports from, whether pip installed it editable) in that venv, run from cwd."""
    script = ("import json, lib, importlib.metadata as m\n"
              "d = m.distribution('char-rnn-notebooks').read_text('direct_url.json') or '{}'\n"
              "print(json.dumps([lib.__file__, json.loads(d).get('dir_info', {}).get('editable', False)]))")
    where, editable = json.loads(_run([python, "-c", script], cwd, env).stdout)
    return Path(where).resolve().parent, editable


def _site_packages(python, env):
    return Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], "/", env)
                .stdout.strip()).resolve()


def _papermill(python, notebook, cwd, env, *params):
    command = [python, "-m", "papermill", "--log-level", "ERROR", notebook, cwd / ("out_" + Path(notebook).name)]
    for name, value in params:
        command += ["-p", name, value]
    _run(command, cwd, env)
    return json.loads((cwd / ("out_" + Path(notebook).name)).read_text(encoding="utf-8"))["cells"]


def test_train_notebook_copied_into_an_empty_folder_trains_into_its_runs_folder(fresh_venv):
    root, clone, python, env = fresh_venv
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "."], clone, env)
    work = root / "work"
    work.mkdir()
    where, editable = _installed_lib(python, work, env)
    site = _site_packages(python, env)
    assert where == site / "lib" and not editable, (where, editable)
    # Every module of every sub-package went in, and nothing else.
    wanted = sorted(str(f.relative_to(clone)) for f in (clone / "lib").rglob("*.py"))
    assert sorted(str(f.relative_to(site)) for f in (site / "lib").rglob("*.py")) == wanted

    shutil.copyfile(clone / "notebooks" / "train.ipynb", work / "train.ipynb")
    (work / "tiny.txt").write_text(ENGLISH_TEXT * 4, encoding="utf-8")
    cells = _papermill(python, work / "train.ipynb", work, env, ("data_path", "tiny.txt"), ("epochs", 2),
                       ("m", 8), ("seq_length", 10), ("synth_every", 50), ("synth_len", 20), ("log_every", 10),
                       ("checkpoint_every", 50))
    # Where the project already imports, the set-up cell does nothing (and says nothing).
    assert next(c for c in cells if c.get("id") == "setup")["outputs"] == []
    finished = list(work.glob("runs/*/summary.json"))
    assert len(finished) == 1, f"expected one run under {work / 'runs'}: {finished}"
    run = finished[0].parent
    summary = json.loads(finished[0].read_text(encoding="utf-8"))
    assert Path(summary["data_path"]).resolve() == (work / "tiny.txt").resolve()
    # It trained: two epochs of updates, and the smooth loss came down from where it started.
    with open(run / "history.csv", encoding="utf-8", newline="") as f:
        history = list(csv.DictReader(f))
    assert summary["steps"] >= 2 * (len(ENGLISH_TEXT * 4) // 10 - 1)
    assert summary["final_smooth_loss"] < float(history[0]["smooth_loss"])
    assert (run / "best.npz").is_file()
    status = json.loads((run / "status.json").read_text(encoding="utf-8"))
    assert status["state"] == "finished", status
    # The commands a user types work from the installed package: the sampler under both its names.
    scripts = Path(python).parent
    sampled = _run([scripts / ("charrnn-sample" + (".exe" if os.name == "nt" else "")), run, "--length", "40"],
                   work, env)
    assert len(sampled.stdout) == 40, sampled.stdout
    assert _run([python, "-m", "lib.sample", run, "--length", "40"], work, env).stdout == sampled.stdout
    usage = subprocess.run([str(python), "-m", "lib.records"], cwd=work, env=env, capture_output=True, text=True)
    assert usage.returncode == 2 and usage.stderr.startswith("usage: python -m lib.records speeches")
    # Nothing of the run or the corpus in the installed package, nor anywhere in the venv.
    assert not (site / "runs").exists() and not (site / "data").exists()
    assert not list((root / "venv").rglob("summary.json")) and not list((root / "venv").rglob("best.npz"))


def _uninstalled(python, env, work):
    """The venv with the project uninstalled, and work (created) a folder where lib does not import."""
    subprocess.run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", "char-rnn-notebooks"], env=env,
                   capture_output=True)
    work.mkdir(parents=True, exist_ok=True)
    missing = subprocess.run([str(python), "-c", "import lib.rnn"], cwd=work, env=env, capture_output=True)
    assert missing.returncode != 0, "the project should not be importable before the set-up cell runs"
    return work


def _run_setup_cell(python, notebook, work, env, project_source=None):
    """The cell's own code, run by IPython (as a kernel runs it: %pip is IPython's) from work, with its
    default project_source or the one given; then it imports lib.rnn. Returns the CompletedProcess."""
    default = setup_tool.DEFAULT_SOURCE_LINE
    source = "".join(setup_cell(notebook)["source"])
    assert default in source
    if project_source is not None:
        source = source.replace(default, f"project_source = {project_source!r}")
    source += "\nimport lib.rnn\nprint('imported')"
    return subprocess.run([str(python), "-m", "IPython", "--quick", "--no-banner", "--colors=NoColor", "-c", source],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)


def _installed_from(python, work, env):
    """The folder pip installed the project from (its direct_url.json), or None (from an index)."""
    script = ("import json, importlib.metadata as m\n"
              "d = json.loads(m.distribution('char-rnn-notebooks').read_text('direct_url.json') or '{}')\n"
              "print(d.get('url', ''))")
    url = _run([python, "-c", script], work, env).stdout.strip()
    return Path(url.removeprefix("file://")).resolve() if url.startswith("file://") else None


def test_the_setup_cell_installs_the_project_where_it_is_missing(fresh_venv):
    """Given a clone's folder: afterwards lib imports from site-packages, installed from the clone, not editable."""
    root, clone, python, env = fresh_venv
    work = _uninstalled(python, env, root / "elsewhere")
    ran = _run_setup_cell(python, clone / "notebooks" / "train.ipynb", work, env, project_source=str(clone))
    assert ran.returncode == 0 and ran.stdout.strip().endswith("imported"), ran.stdout + ran.stderr
    where, editable = _installed_lib(python, work, env)
    assert where == _site_packages(python, env) / "lib" and not editable, (where, editable)
    assert _installed_from(python, work, env) == clone.resolve()


def test_the_setup_cells_default_installs_the_clone_beside_the_notebook(fresh_venv):
    """Colab: `git clone <repository URL> char-rnn-notebooks` in the kernel's folder, then the cell as committed.
    The default is that folder's path, so pip installs the clone, and asks no package index for the name."""
    root, clone, python, env = fresh_venv
    content = _uninstalled(python, env, root / "content")
    beside = content / "char-rnn-notebooks"
    if not beside.exists():
        beside.symlink_to(clone, target_is_directory=True)
    ran = _run_setup_cell(python, clone / "notebooks" / "inside.ipynb", content, env)
    assert ran.returncode == 0 and ran.stdout.strip().endswith("imported"), ran.stdout + ran.stderr
    assert _installed_from(python, content, env) == clone.resolve()


def test_the_setup_cell_never_hands_pip_a_bare_name(fresh_venv):
    """A project_source that is no clone's folder (the old default, a bare name) is refused in one line naming
    it, before pip runs: pip would look the name up on the package index."""
    root, clone, python, env = fresh_venv
    work = _uninstalled(python, env, root / "bare")
    ran = _run_setup_cell(python, clone / "notebooks" / "inside.ipynb", work, env, project_source="char-rnn-notebooks")
    assert ran.returncode != 0
    said = ran.stdout + ran.stderr
    assert (f"FileNotFoundError: project_source = 'char-rnn-notebooks': no clone of the repository at "
            f"{(work / 'char-rnn-notebooks').resolve()}") in said, said
    assert "imported" not in ran.stdout and "Could not find a version" not in said and "ERROR:" not in said, said
