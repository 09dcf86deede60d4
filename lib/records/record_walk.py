"""How a record-mode run walks its records: each record one sequence from h = 0 in
seq_length chunks, the records in a new order each epoch drawn from the seed, the last ones
held out whole; and a run's records read, cut, joined and counted for the train notebook."""

import math

import numpy as np

from lib import network, rnn_fast
from lib.training import parts
from lib.records.record_files import RecordsError, choose_boundary, cut, join, read_records, symbols




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
    return parts.order_rng(seed, epoch).permutation(n_records)


def record_chunks(starts, pairs, seq_length, order):
    """One epoch's chunks: each record in ``order`` walked in seq_length pieces, h zeroed at its start.

    Returns (chunk starts, lengths, resets) as lib.training.train.stream_chunks does.
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
    K, m = network.sizes(params)
    h0 = network.init_state(params)
    if network.cell_of(params) == "rnn":
        work = rnn_fast.workspace(int(pairs.max()) if len(pairs) else 1, m, K, backward=False)
        read = lambda x, y: rnn_fast.loss(params, x, y, h0[0], work)[0]   # noqa: E731
    else:
        cell = network.module(network.cell_of(params))
        read = lambda x, y: cell.loss(params, x[None], y[None], h0)[0]   # noqa: E731
    total = 0.0
    for s, n in zip(starts, pairs):
        total += read(data[s:s + n], data[s + 1:s + n + 1])
    return float(total / (pairs.sum() * math.log(2)))


def epoch_walk(train_data, boundary_index, seq_length, seed):
    """epoch number -> that epoch's (starts, lengths, resets): each training record in the
    epoch's own shuffled order (``epoch_order``)."""
    starts, pairs = layout(train_data, boundary_index)
    return lambda epoch: record_chunks(starts, pairs, seq_length, epoch_order(seed, epoch, len(starts)))


def record_mode(boundary, settings, facts):
    """The record_mode argument of lib.training.train.train: what it keeps, and the steps that differ
    from the stream."""
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
