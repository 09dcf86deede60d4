"""Records drawn from a record-mode model, each whole: from h = 0 and the boundary, up to the
next boundary or max_len characters."""

import numpy as np

from lib import checks, network, rnn
from lib.records import record_files
from lib.sample.sampling import check_prime
from lib.text import corpus


def sample_records(params, vocab, boundary, count, seed, max_len=record_files.DEFAULT_MAX_LEN, temperature=1.0,
                   prime="", argmax=False, top_p=1.0):
    """count records drawn whole (see ``iter_records``), as a list of strings."""
    return list(iter_records(params, vocab, boundary, count, seed, max_len, temperature, prime, argmax, top_p))


def iter_records(params, vocab, boundary, count, seed, max_len=record_files.DEFAULT_MAX_LEN, temperature=1.0,
                 prime="", argmax=False, top_p=1.0):
    """count records drawn whole, as an iterator (its arguments are checked at once): each from
    h = 0 with the boundary as first input, then the prime's characters, ending at the boundary
    (not included) or at max_len characters, the prime included. One Generator seeded by seed
    draws them all, one uniform number per character.

    Args:
        params: model parameters; vocab: its characters in index order (a list or str);
        boundary: the record boundary (the model file's ``boundary``);
        prime: the start of every record (it may not hold the boundary);
        argmax: always take the most likely character (the seed is then not used);
        top_p: nucleus sampling's theta in (0, 1], after the temperature (lib.rnn.nucleus).
    Returns:
        An iterator of count strings, each starting with the prime.
    """
    vocab = list(vocab)
    if boundary not in vocab:
        raise record_files.RecordsError(f"the boundary {boundary!r} is not in the model's vocabulary")
    for name, value in (("count", count), ("max_len", max_len)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (name == "max_len"):
            raise record_files.RecordsError(f"{name} must be a {'positive' if name == 'max_len' else 'non-negative'} "
                               f"integer, got {value!r}")
    temperature = checks.check("temperature", temperature, "temperature")
    top_p = checks.check("top_p", top_p, "top_p")
    if boundary in prime:
        raise record_files.RecordsError("the prime holds the record boundary: a record cannot contain it")
    if len(prime) > max_len:
        raise record_files.RecordsError(f"the prime has {len(prime):,} characters, more than the {max_len:,} a record "
                           f"may have")
    stop = vocab.index(boundary)
    # The inputs before the first draw: the opening boundary, then the prime.
    fed = [stop] + corpus.encode(prime, vocab, what="prime").tolist()
    return _draw_records(params, vocab, stop, fed, int(count), seed, max_len, temperature, len(prime), argmax,
                         top_p)


def _draw_records(params, vocab, stop, fed, count, seed, max_len, temperature, n_prime, argmax, top_p):
    """iter_records' draws, once its arguments are checked."""
    # All inputs but the last only move the hidden state, which every record then starts from.
    primed = network.init_state(params)
    for x in fed[:-1]:
        primed, _ = network.step(params, primed, x)
    first = fed[-1]
    rng = np.random.default_rng(seed)
    for _ in range(count):
        h, x, drawn = primed, first, []
        while n_prime + len(drawn) < max_len:
            h, o = network.step(params, h, x)
            x = rnn.draw(o, None if argmax else rng.random(), temperature, argmax, top_p)
            if x == stop:
                break
            drawn.append(x)
        yield "".join(vocab[i] for i in fed[1:] + drawn)


def is_record_model(meta):
    """Whether a model file's metadata (lib.training.checkpoint.load_model's third value) is a record-mode model's."""
    return bool(meta.get("records")) and isinstance(meta.get("boundary"), str)


def record_lines(params, vocab, meta, count, seed, temperature=1.0, prime="", max_len=None, argmax=False,
                 top_p=1.0):
    """count records of a record-mode model (lib.records), each as one printable line.

    The records are lib.records.record_sampling.iter_records' (one Generator seeded by seed draws them in
    turn, so seed 0 gives the records the train notebook and the report show), each of
    at most max_len characters (default: the model's max_record_len), starting with the
    prime; a newline inside a record is shown as a visible symbol (record_files.visible).
    Everything is checked before this returns; the records are drawn as the iterator runs.
    """
    temperature = checks.check("temperature", temperature, "temperature")
    check_prime(prime, vocab)
    boundary = meta["boundary"]
    drawn = iter_records(params, vocab, boundary, count, seed,
                                 meta["max_record_len"] if max_len is None else max_len, temperature, prime,
                                 argmax, top_p)
    return (record_files.visible(record, boundary, vocab) for record in drawn)
