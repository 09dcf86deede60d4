"""A file of records read into a list of texts, and the texts joined into one training text
around a boundary character (see lib.records for the layout); ``visible`` prints a record with
its boundary and newlines shown."""

import json
from pathlib import Path

from lib import checks
from lib.text import corpus

DEFAULT_FIELD = "text"
DEFAULT_MAX_LEN = 140
# The boundary: the first of these that occurs in no record (ASCII separators, then private use).
BOUNDARY_CANDIDATES = "\x1e\x1f\x1d\x1c" + "".join(chr(c) for c in range(0xE000, 0xE100))
# How the boundary and a newline inside a record are printed (the first one not in the data).
BOUNDARY_SYMBOLS = "¶§◊"
NEWLINE_SYMBOLS = "↵⏎"
JSON_ARRAY_SUFFIXES = (".json",)
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")


class RecordsError(corpus.CorpusError):
    """A records file that cannot be used; the message names the file (and the line)."""



def file_format(path):
    """'json', 'jsonl' or 'lines', from the file name's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in JSON_ARRAY_SUFFIXES:
        return "json"
    if suffix in JSON_LINES_SUFFIXES:
        return "jsonl"
    return "lines"


def _record_text(value, field, path, where):
    """The text of one JSON record (a string, or an object's field), or RecordsError naming it."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if field not in value:
            raise RecordsError(f"{path}: {where} has no field {field!r} (record_field={field!r}; "
                               f"its fields: {', '.join(map(repr, list(value)[:8])) or 'none'})")
        text = value[field]
        if not isinstance(text, str):
            raise RecordsError(f"{path}: {where}: field {field!r} is {checks.describe(text)}, not a string")
        return text
    raise RecordsError(f"{path}: {where} is {checks.describe(value)}, expected a string or an object "
                       f"with a string field {field!r}")


def _line_of(text, index):
    return text.count("\n", 0, index) + 1


def parse_records(text, fmt, path="records", record_field=DEFAULT_FIELD):
    """The records (strings, empty ones included) of a file's text in format fmt; RecordsError if bad."""
    if fmt == "lines":
        lines = text.split("\n")
        return lines[:-1] if lines and lines[-1] == "" else lines
    if fmt == "jsonl":
        out = []
        for number, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as err:
                # The decoder saw the line alone: its own line is 1, its column is the line's.
                raise RecordsError(f"{path}: line {number} is not valid JSON ({_reason(err, number)})") from None
            out.append(_record_text(value, record_field, path, f"line {number}"))
        return out
    if fmt != "json":
        raise ValueError(f"unknown records format {fmt!r}")
    try:
        value = json.loads(text)
    except ValueError as err:
        raise RecordsError(f"{path}: invalid JSON ({_reason(err)})") from None
    if not isinstance(value, list):
        raise RecordsError(f"{path}: expected a JSON array of strings or of objects, got {checks.describe(value)}")
    # Each element's line, for the message, found only when an element is bad.
    out = []
    for i, item in enumerate(value):
        try:
            out.append(_record_text(item, record_field, path, f"record {i + 1}"))
        except RecordsError as err:
            line = _element_line(text, i)
            message = str(err) if line is None else str(err).replace(
                f"record {i + 1}", f"record {i + 1} (line {line})", 1)
            raise RecordsError(message) from None
    return out


def _reason(err, line=None):
    """A JSON error's whole message with its place: "Unterminated string starting at: line 2, column 9"."""
    if not hasattr(err, "msg"):
        return str(err)
    return f"{err.msg}: line {err.lineno if line is None else line}, column {err.colno}"


def _element_line(text, index):
    """The line on which the index-th element of a top-level JSON array starts (None if not found)."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    for i in range(index + 1):
        while text[pos] in " \t\r\n,":
            pos += 1
        if i == index:
            return _line_of(text, pos)
        try:
            _, pos = decoder.raw_decode(text, pos)
        except ValueError:
            return None
    return None


def read_records(path, record_field=DEFAULT_FIELD, keep_carriage_returns=False):
    """Read a records file (see the module docstring), with one clear error for each way it is unusable.

    Returns:
        {"records": non-empty records in file order, "empty": how many were blank and skipped,
         "converted": line endings made \\n, "format": "lines" | "json" | "jsonl"}.
    Raises:
        corpus.CorpusError (a missing, empty or non-UTF-8 file) or RecordsError (bad JSON, a
        missing field, a non-string value, no non-empty record), each one line naming the file.
    """
    if not isinstance(record_field, str) or not record_field:
        raise RecordsError(f"record_field must be a non-empty string, got {record_field!r}")
    text, converted = corpus.read(path, keep_carriage_returns)
    fmt = file_format(path)
    raw = parse_records(text, fmt, path, record_field)
    kept = [r for r in raw if r.strip()]
    if not kept:
        raise RecordsError(f"{path}: no non-empty record ({len(raw):,} record{'s' * (len(raw) != 1)}, "
                           f"all blank)")
    return {"records": kept, "empty": len(raw) - len(kept), "converted": converted, "format": fmt}


def cut(records, max_record_len):
    """(records cut to max_record_len characters, how many were longer)."""
    if isinstance(max_record_len, bool) or not isinstance(max_record_len, int) or max_record_len < 1:
        raise RecordsError(f"max_record_len must be a positive integer, got {max_record_len!r}")
    longer = sum(len(r) > max_record_len for r in records)
    return [r[:max_record_len] for r in records], longer


def choose_boundary(records):
    """The first candidate character that occurs in no record."""
    used = set().union(*map(set, records)) if records else set()
    for ch in BOUNDARY_CANDIDATES:
        if ch not in used:
            return ch
    raise RecordsError("the records use every candidate boundary character")


def join(records, boundary):
    """The training text: B record_1 B record_2 B ... record_n B."""
    return boundary + boundary.join(records) + boundary


def split_records(text, boundary):
    """The records of a joined text (join's inverse)."""
    if len(text) < 2 or text[0] != boundary or text[-1] != boundary:
        raise RecordsError("a record-mode text must start and end with its boundary character")
    return text[1:-1].split(boundary)


def symbols(vocab):
    """(boundary symbol, newline symbol): the first of each list that is not in the vocabulary."""
    vocab = set(vocab)
    pick = [next((s for s in options if s not in vocab), options[0])
            for options in (BOUNDARY_SYMBOLS, NEWLINE_SYMBOLS)]
    return pick[0], pick[1]


def visible(text, boundary=None, vocab=()):
    """text with each newline shown as ↵ and each boundary as ¶ (other symbols if the data has these)."""
    boundary_symbol, newline_symbol = symbols(vocab)
    text = text.replace("\n", newline_symbol)
    return text.replace(boundary, boundary_symbol) if boundary else text
