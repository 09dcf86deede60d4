"""The demonstration's records: the short speeches of the default corpus, written as JSON Lines
(``python -m lib.records speeches CORPUS OUT.jsonl``)."""

import json
from pathlib import Path

from lib.records.record_files import DEFAULT_MAX_LEN, RecordsError
from lib.text import corpus


def shakespeare_speeches(text, max_len=DEFAULT_MAX_LEN):
    """The speeches of a play text of lib.text.shakespeare's layout that are at most max_len characters.

    A speech is a paragraph (between blank lines) whose first line is a speaker's name in
    capitals (``LADY MACBETH``, ``MARCELLUS & BERNARDO``) followed by at least one line; the
    record is those lines (joined by newlines), the name left out.
    Returns a list of {"speaker", "text"} in the order of the text.
    """
    out = []
    for paragraph in text.split("\n\n"):
        lines = paragraph.strip("\n").split("\n")
        if len(lines) < 2 or not _is_speaker(lines[0]):
            continue
        speech = "\n".join(lines[1:])
        if speech.strip() and len(speech) <= max_len:
            out.append({"speaker": lines[0], "text": speech})
    return out


def _is_speaker(line):
    letters = [ch for ch in line if ch.isalpha()]
    return bool(letters) and line[0].isalpha() and line == line.upper() and \
        all(ch.isalpha() or ch in " '&.,-" for ch in line)


def write_speeches(corpus_path, out_path, max_len=DEFAULT_MAX_LEN):
    """Write the short speeches of corpus_path as JSON Lines ({"speaker", "text"} per line); returns how many."""
    speeches = shakespeare_speeches(corpus.read_text(corpus_path), max_len)
    if not speeches:
        raise RecordsError(f"{corpus_path}: no speech of at most {max_len} characters found")
    from lib.atomic import atomic_write

    lines = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in speeches)
    atomic_write(Path(out_path), lambda f: f.write(lines), binary=False)
    return len(speeches)


def main(argv=None):
    """python -m lib.records speeches CORPUS OUT [MAX_LEN]: Shakespeare in MAX_LEN (140) characters."""
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (3, 4) or argv[0] != "speeches":
        print("usage: python -m lib.records speeches CORPUS OUT.jsonl [MAX_LEN]", file=sys.stderr)
        return 2
    max_len = int(argv[3]) if len(argv) == 4 else DEFAULT_MAX_LEN
    try:
        n = write_speeches(argv[1], argv[2], max_len)
    except corpus.CorpusError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{argv[2]}: {n:,} speeches of at most {max_len} characters from {argv[1]}")
    return 0
