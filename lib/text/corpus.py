"""The training text and its vocabulary: read, check, encode, decode, split."""

from pathlib import Path

import numpy as np

from lib.atomic import OneLine


class CorpusError(OneLine, ValueError):
    """A training text that cannot be used, with a message naming the file."""


def read_text(path, keep_carriage_returns=False):
    """The text of a UTF-8 file, line endings made \\n (see ``read``)."""
    return read(path, keep_carriage_returns)[0]


def normalize_newlines(text):
    """(text with each \\r\\n and lone \\r made \\n, how many were converted), as Python's text mode reads."""
    converted = text.count("\r")
    if not converted:
        return text, 0
    return text.replace("\r\n", "\n").replace("\r", "\n"), converted


def read(path, keep_carriage_returns=False, what="data", max_chars=None):
    """Read a UTF-8 text file, with one clear error for each way it can be unusable.

    A Windows (\\r\\n) or old Mac (\\r) line ending becomes \\n, so that a copy of a
    book saved on Windows gives the same vocabulary and losses as its Unix twin;
    keep_carriage_returns=True trains on the bytes as they are. Only a regular file is
    opened: a device (/dev/zero) or a pipe could be endless or block forever.

    Args:
        what: what the file is, for the messages ("data": "data file not found: ...").
        max_chars: refuse a text of more characters (read no more than could hold them).

    Returns:
        (text, converted): the text, and how many line endings were converted.

    Raises:
        CorpusError: the file is missing, not a regular file, empty, too long, or not UTF-8
            (the message gives the byte offset, line and column of the bad byte).
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{what} file not found: {path}")
    if not path.is_file():
        raise CorpusError(f"{what} path is not a file: {path} (a folder, device or pipe is not read)")
    too_long = f"{what} file has more than {max_chars:,} characters: {path}" if max_chars is not None else ""
    with open(path, "rb") as f:
        # A UTF-8 character is at most 4 bytes: reading one byte more than 4 * max_chars tells.
        raw = f.read() if max_chars is None else f.read(4 * max_chars + 1)
    if max_chars is not None and len(raw) > 4 * max_chars:
        raise CorpusError(too_long)
    if not raw:
        raise CorpusError(f"{what} file is empty: {path}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise CorpusError(
            f"{what} file is not UTF-8: {path}: byte 0x{raw[err.start]:02x} at offset {err.start} "
            f"(line {line}, byte column {column}) cannot be decoded ({err.reason})"
        ) from None
    if max_chars is not None and len(text) - text.startswith("\ufeff") > max_chars:
        raise CorpusError(too_long)
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark is not part of the book
    if not text:
        raise CorpusError(f"{what} file is empty (only a byte-order mark): {path}")
    return (text, 0) if keep_carriage_returns else normalize_newlines(text)


def build_vocab(text):
    """The sorted distinct characters of text, as a list of one-character strings."""
    return sorted(set(text))


def encode(text, vocab, what="text"):
    """Indices (n,) int64 of text's characters in vocab.

    Raises:
        CorpusError: text holds characters outside vocab (all of them named).
    """
    # A lookup table indexed by code point: ~15x faster than a dict lookup per character
    # (a 1.1M-character book: 9 ms against 140). surrogatepass keeps a lone surrogate a character.
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    vocab_codes = [ord(ch) for ch in vocab]
    lookup = np.full(max(vocab_codes, default=-1) + 1, -1, dtype=np.int64)
    lookup[vocab_codes] = np.arange(len(vocab_codes))
    indices = lookup[np.minimum(codes, len(lookup) - 1)] if len(lookup) else np.full(len(codes), -1)
    # A code point past the table was clamped onto its last entry: compare back to catch it.
    outside = (indices < 0) | (codes >= len(lookup))
    if outside.any():
        missing = sorted(set(text) - set(vocab))
        raise CorpusError(
            f"{what} has characters outside the vocabulary: {''.join(missing)!r}"
        )
    return indices


def decode(indices, vocab):
    """The string whose characters are vocab[i] for i in indices."""
    return "".join(vocab[i] for i in indices)


def split_train_val(n_chars, val_fraction, seq_length):
    """Where the held-out tail starts: train on [0, split), validate on [split, n).

    Raises:
        CorpusError: val_fraction is outside [0, 1), or leaves fewer than
            seq_length + 1 characters for training or for validation.
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float, np.floating, np.integer)):
        raise CorpusError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    if not (0 <= val_fraction < 1):
        raise CorpusError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    n_val = int(round(n_chars * val_fraction))
    split = n_chars - n_val
    need = seq_length + 1
    if split < need:
        raise CorpusError(
            f"text too short: {n_chars} characters leave {split} for training with "
            f"val_fraction={val_fraction}, fewer than seq_length + 1 = {need}"
        )
    if val_fraction > 0 and n_val < need:
        raise CorpusError(
            f"val_fraction={val_fraction} leaves {n_val} held-out characters of {n_chars}, "
            f"fewer than seq_length + 1 = {need}"
        )
    return split


def main(argv=None):
    """python -m lib.text.corpus FILE [FAILURES_DIR]: check that FILE can be trained on, in one line.

    A failure's line is also written to FAILURES_DIR/corpus (make repeats it at the end).
    """
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2):
        print("usage: python -m lib.text.corpus FILE [FAILURES_DIR]", file=sys.stderr)
        return 2
    try:
        text, converted = read(argv[0])
    except CorpusError as err:
        line = f"error: DATA: {err}"
        print(line, file=sys.stderr)
        if len(argv) == 2:
            Path(argv[1]).mkdir(parents=True, exist_ok=True)
            (Path(argv[1]) / "corpus").write_text(line + "\n", encoding="utf-8")
        return 1
    note = f", {converted:,} line endings made \\n" if converted else ""
    print(f"{argv[0]}: {len(text):,} characters, K = {len(build_vocab(text))}{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
