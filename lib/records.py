"""Record mode: short texts (names, titles, tweets, speeches) learnt and generated whole.

A file of records is read (``read_records``): one record per line (any file but
``.json``/``.jsonl``), a JSON array of strings or of objects (``.json``), or JSON
Lines (``.jsonl``, ``.ndjson``), objects giving their text in ``record_field``.
Empty (blank) records are skipped and counted; records longer than
``max_record_len`` are cut there and counted.

The records become one training text (``join``): a boundary character ``B`` that
occurs in no record, then each record followed by ``B``::

    B record_1 B record_2 B ... record_n B

so record i is the sequence from its opening boundary to its closing one, the
closing boundary of one record being the opening one of the next. The boundary
is part of the vocabulary and of the model file's metadata (``boundary``,
``records: true``); ``visible`` shows it (and a newline inside a record) as a
visible symbol.

Training (``lib.train.train`` with ``record_mode``) walks each record as one
sequence from h = 0: inputs ``B r_1 .. r_n``, targets ``r_1 .. r_n B``, in
``seq_length`` chunks (the last one shorter), the hidden state carried within the
record. The records are visited in a new order each epoch, a permutation drawn
from the run's seed and the epoch number alone (``epoch_order``), so a resumed run
needs no extra state to continue the same order. ``val_fraction`` holds out the
last records of the file, whole; their bits per character (``heldout_bits``) are
measured over each record's characters and its closing boundary, from h = 0.
"""

import json
import math
from pathlib import Path

import numpy as np

from . import checks, corpus, rnn, rnn_fast

DEFAULT_FIELD = "text"
DEFAULT_MAX_LEN = 140
# The boundary: the first of these that occurs in no record (ASCII separators, then private use).
BOUNDARY_CANDIDATES = "\x1e\x1f\x1d\x1c" + "".join(chr(c) for c in range(0xE000, 0xE100))
# How the boundary and a newline inside a record are printed (the first one not in the data).
BOUNDARY_SYMBOLS = "¶§◊"
NEWLINE_SYMBOLS = "↵⏎"
JSON_ARRAY_SUFFIXES = (".json",)
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
# spawn_key of the SeedSequence behind each epoch's order: train() spawns the
# initial weights (0,) and the samples (1,) from the same seed; the order is (2, epoch).
ORDER_STREAM = 2


class RecordsError(corpus.CorpusError):
    """A records file that cannot be used; the message names the file (and the line)."""


# ----------------------------------------------------------------- reading

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


# ----------------------------------------------------------------- the walk

def layout(data, boundary_index):
    """Where each record lies in encoded data: (starts, pairs), each (n,) int64.

    starts[i] is the position of record i's opening boundary; its inputs are
    data[starts[i] : starts[i] + pairs[i]] and targets one position later
    (pairs[i] = its length + 1, the closing boundary included).
    """
    at = np.flatnonzero(np.asarray(data) == boundary_index)
    if len(at) < 2 or at[0] != 0 or at[-1] != len(data) - 1:
        raise RecordsError("a record-mode text must start and end with its boundary character")
    return at[:-1].astype(np.int64), np.diff(at).astype(np.int64)


def held_out_count(n_records, val_fraction):
    """How many records (the last of the file) val_fraction holds out; RecordsError if none remain."""
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise RecordsError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    n_val = int(round(n_records * val_fraction))
    if val_fraction > 0 and n_records < 2:
        # No fraction can work: one record cannot be both trained on and held out.
        raise RecordsError(f"val_fraction={val_fraction} needs at least 2 records (one to train on, one to "
                           f"hold out), and there is {n_records}: add records, or use val_fraction 0")
    if n_val >= n_records:
        raise RecordsError(f"val_fraction={val_fraction} holds out all {n_records:,} records: none left to "
                           f"train on; use at most {(n_records - 1) / n_records:.3g}, or 0")
    if val_fraction > 0 and n_val == 0:
        raise RecordsError(f"val_fraction={val_fraction} holds out no record of {n_records:,}: use at least "
                           f"{1 / n_records:.3g} (one record), or 0")
    return n_val


def split_text(text, boundary, val_fraction):
    """Where training ends in a joined text: train on text[:split], hold out text[split - 1:].

    The held-out part starts at the opening boundary of the first held-out record
    (the closing one of the last training record); split == len(text) when none is held out.
    """
    n_records = text.count(boundary) - 1
    if n_records < 1 or text[0] != boundary or text[-1] != boundary:
        raise RecordsError("a record-mode text must start and end with its boundary character")
    n_val = held_out_count(n_records, val_fraction)
    pos = -1
    for _ in range(n_records - n_val + 1):
        pos = text.index(boundary, pos + 1)
    return pos + 1


def epoch_order(seed, epoch, n_records):
    """The order in which epoch number ``epoch`` (1, 2, ...) visits n_records records."""
    sequence = np.random.SeedSequence(seed, spawn_key=(ORDER_STREAM, int(epoch)))
    return np.random.default_rng(sequence).permutation(n_records)


def record_chunks(starts, pairs, seq_length, order):
    """One epoch's chunks: each record in ``order`` walked in seq_length pieces, h zeroed at its start.

    Returns (chunk starts, lengths, resets) as lib.train.stream_chunks does.
    """
    s, p = np.asarray(starts)[order], np.asarray(pairs)[order]
    counts = -(-p // seq_length)
    offset = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    k_len = offset * seq_length
    return (np.repeat(s, counts) + k_len, np.minimum(seq_length, np.repeat(p, counts) - k_len),
            offset == 0)


def steps_per_epoch(pairs, seq_length):
    """Updates in one pass over records of these pair counts."""
    return int((-(-np.asarray(pairs) // seq_length)).sum())


def heldout_bits(params, data, boundary_index):
    """Bits per character over each record of data (B r B r ... B): characters and closing boundary, h = 0 each."""
    starts, pairs = layout(data, boundary_index)
    m, K = params["U"].shape
    h0 = np.zeros(m)
    work = rnn_fast.workspace(int(pairs.max()) if len(pairs) else 1, m, K, backward=False)
    total = 0.0
    for s, n in zip(starts, pairs):
        total += rnn_fast.loss(params, data[s:s + n], data[s + 1:s + n + 1], h0, work)[0]
    return float(total / (pairs.sum() * math.log(2)))


def epoch_walk(train_data, boundary_index, seq_length, seed):
    """epoch number -> that epoch's (starts, lengths, resets): each training record in the
    epoch's own shuffled order (``epoch_order``)."""
    starts, pairs = layout(train_data, boundary_index)
    return lambda epoch: record_chunks(starts, pairs, seq_length, epoch_order(seed, epoch, len(starts)))


def record_mode(boundary, settings, facts):
    """The record_mode argument of lib.train.train: what it keeps, and the steps that differ from the stream."""
    return {"boundary": boundary, "settings": settings, "facts": facts, "split_text": split_text,
            "epoch_walk": epoch_walk, "heldout_bits": heldout_bits}


def bigram_bits(train_data, val_data, boundary_index, K):
    """An add-one smoothed character bigram fitted on the training records, bits/char on the held-out ones.

    Both are encoded joined texts (B r B ...); the pairs counted and scored are the
    ones the RNN predicts: (B, r_1), (r_1, r_2), ..., (r_n, B) of each record.
    """
    train_data, val_data = np.asarray(train_data), np.asarray(val_data)
    counts = np.ones((K, K))
    np.add.at(counts, (train_data[:-1], train_data[1:]), 1.0)
    log_p = np.log2(counts / counts.sum(axis=1, keepdims=True))
    return float(-log_p[val_data[:-1], val_data[1:]].mean())


# ----------------------------------------------------------------- sampling

def sample_records(params, vocab, boundary, count, seed, max_len=DEFAULT_MAX_LEN, temperature=1.0,
                   prime="", argmax=False):
    """count records drawn whole (see ``iter_records``), as a list of strings."""
    return list(iter_records(params, vocab, boundary, count, seed, max_len, temperature, prime, argmax))


def iter_records(params, vocab, boundary, count, seed, max_len=DEFAULT_MAX_LEN, temperature=1.0,
                 prime="", argmax=False):
    """count records drawn whole, as an iterator (its arguments are checked at once): each from
    h = 0 with the boundary as first input, then the prime's characters, ending at the boundary
    (not included) or at max_len characters, the prime included. One Generator seeded by seed
    draws them all, one uniform number per character.

    Args:
        params: model parameters; vocab: its characters in index order (a list or str);
        boundary: the record boundary (the model file's ``boundary``);
        prime: the start of every record (it may not hold the boundary);
        argmax: always take the most likely character (the seed is then not used).
    Returns:
        An iterator of count strings, each starting with the prime.
    """
    vocab = list(vocab)
    if boundary not in vocab:
        raise RecordsError(f"the boundary {boundary!r} is not in the model's vocabulary")
    for name, value in (("count", count), ("max_len", max_len)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (name == "max_len"):
            raise RecordsError(f"{name} must be a {'positive' if name == 'max_len' else 'non-negative'} "
                               f"integer, got {value!r}")
    temperature = checks.check("temperature", temperature, "temperature")
    if boundary in prime:
        raise RecordsError("the prime holds the record boundary: a record cannot contain it")
    if len(prime) > max_len:
        raise RecordsError(f"the prime has {len(prime):,} characters, more than the {max_len:,} a record "
                           f"may have")
    stop = vocab.index(boundary)
    # The inputs before the first draw: the opening boundary, then the prime.
    fed = [stop] + corpus.encode(prime, vocab, what="prime").tolist()
    return _draw_records(params, vocab, stop, fed, int(count), seed, max_len, temperature, len(prime), argmax)


def _draw_records(params, vocab, stop, fed, count, seed, max_len, temperature, n_prime, argmax):
    """iter_records' draws, once its arguments are checked."""
    b, c, U, W, V = (params[k] for k in rnn.PARAM_NAMES)
    # All inputs but the last only move the hidden state, which every record then starts from.
    primed = np.zeros(W.shape[0])
    for x in fed[:-1]:
        primed = np.tanh(W @ primed + U[:, x] + b)
    first = fed[-1]
    rng = np.random.default_rng(seed)
    for _ in range(count):
        h, x, drawn = primed, first, []
        while n_prime + len(drawn) < max_len:
            h = np.tanh(W @ h + U[:, x] + b)
            o = V @ h + c
            if argmax:
                x = int(np.argmax(o))
            else:
                o = o / temperature
                x = rnn.softmax_sample(np.exp(o - o.max()), rng.random())
            if x == stop:
                break
            drawn.append(x)
        yield "".join(vocab[i] for i in fed[1:] + drawn)


def is_record_model(meta):
    """Whether a model file's metadata (lib.checkpoint.load_model's third value) is a record-mode model's."""
    return bool(meta.get("records")) and isinstance(meta.get("boundary"), str)


# ----------------------------------------------------------------- a run's records

def prepare_run(data_file, record_field, max_record_len, keep_carriage_returns, val_fraction, seq_length,
                epochs, max_steps):
    """Read and check a records file for a training run: the joined text and what to report.

    Returns a dict: text, converted, boundary, planned_steps, and "facts" (n_records,
    n_train_records, n_val_records, empty_skipped, cut, record_field, max_record_len, format)
    that the summary and the model file keep.
    """
    read = read_records(data_file, record_field, keep_carriage_returns)
    kept, longer = cut(read["records"], max_record_len)
    boundary = choose_boundary(kept)
    n_val = held_out_count(len(kept), val_fraction)
    train_pairs = np.array([len(r) + 1 for r in kept[:len(kept) - n_val]])
    planned = steps_per_epoch(train_pairs, seq_length) * epochs
    facts = {"n_records": len(kept), "n_train_records": len(kept) - n_val, "n_val_records": n_val,
             "empty_skipped": read["empty"], "cut": longer, "record_field": record_field,
             "max_record_len": max_record_len, "format": read["format"]}
    return {"text": join(kept, boundary), "converted": read["converted"], "boundary": boundary,
            "planned_steps": planned if max_steps is None else min(planned, max_steps), "facts": facts}


def describe(prepared):
    """Lines on what was read, for the train notebook."""
    f = prepared["facts"]
    held = f" ({f['n_train_records']:,} to train on, the last {f['n_val_records']:,} held out)" \
        if f["n_val_records"] else ""
    line = f"record mode ({f['format']}): {f['n_records']:,} records{held}"
    if f["empty_skipped"]:
        line += f"; {f['empty_skipped']:,} empty record{'s' * (f['empty_skipped'] != 1)} skipped"
    line += (f"; {f['cut']:,} longer than max_record_len={f['max_record_len']} cut there" if f["cut"]
             else f"; none longer than max_record_len={f['max_record_len']}")
    symbol = symbols(prepared["text"])[0]
    return line + f"; boundary {prepared['boundary']!r} (shown as {symbol})"


# ----------------------------------------------------------------- the demonstration

def shakespeare_speeches(text, max_len=DEFAULT_MAX_LEN):
    """The speeches of a play text of lib.shakespeare's layout that are at most max_len characters.

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
    from .atomic import atomic_write

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


if __name__ == "__main__":
    raise SystemExit(main())
