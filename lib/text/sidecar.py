"""What a prepared text is: the sidecar ``<text>.json`` that ``shakespeare.prepare()`` writes
beside the text, and the answers it gives (the held-out play's file, a reader's name for the
text). A user's own text has no sidecar, and every answer then says "not ours"."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lib.atomic import OneLine

# The held-out play goes into this file, in the folder of the training text.
HELDOUT_NAME = "heldout.txt"

class PrepareError(OneLine, Exception):
    """An expected failure; the CLI prints it as one line, no traceback."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sidecar_path(data_path: str | os.PathLike) -> Path:
    """Where prepare() records what it made from data_path: ``<name>.json`` beside it."""
    data_path = Path(data_path)
    return data_path.with_name(data_path.name + ".json")


def read_info(data_path: str | os.PathLike) -> dict | None:
    """The corpus information prepare() wrote for data_path, or None (a user's own text)."""
    try:
        info = json.loads(sidecar_path(data_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def corpus_label(data_path: str | os.PathLike) -> str:
    """A reader's name for the text: the default corpus says what it is, other files their name."""
    info = read_info(data_path)
    plays = info.get("plays") if info else None
    if isinstance(plays, list):
        return f"Shakespeare, {len(plays)} plays ({Path(data_path).name})"
    return Path(data_path).name


def heldout_path(data_path: str | os.PathLike) -> Path | None:
    """The held-out play's text for the corpus data_path, or None when it has none.

    None for a user's own text (no sidecar) and for a selection that trains on
    every play (``--all``). Raises PrepareError when the sidecar names a held-out
    file that is missing or no longer the one it recorded.
    """
    info = read_info(data_path)
    held = info.get("heldout") if info else None
    if not held:
        return None
    if not isinstance(held, dict) or not all(isinstance(held.get(k), str) for k in ("file", "sha256")):
        raise PrepareError(f"malformed 'heldout' entry in {sidecar_path(data_path)}")
    path = Path(data_path).with_name(held["file"])
    if not path.is_file() or sha256_file(path) != held["sha256"]:
        raise PrepareError(
            f"held-out text {path} is missing or changed since {sidecar_path(data_path).name} "
            "was written; run `python data/shakespeare/prepare.py` (or `make corpus`) to remake it")
    return path
