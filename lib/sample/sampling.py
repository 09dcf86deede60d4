"""Text from a trained model: characters in, characters out.

The sampling command (``lib.sample.command``), ``best_model.ipynb`` and its sampler
(``lib.sample.widget``) all draw through here, so a prime, a temperature or a record
model is handled the same way by each.
"""

import numpy as np

from lib import checks, network
from lib.text import corpus

# The longest prime accepted. A prime only sets the hidden state, which forgets its start
# within a few hundred characters, so a longer one costs time (it is fed one character
# at a time) and memory, and changes nothing.
MAX_PRIME_CHARS = 100_000


def start_char(vocab):
    """The first input when no text is given: a newline (a fresh line), else a space, else vocab[0]."""
    for ch in ("\n", " "):
        if ch in vocab:
            return ch
    return vocab[0]


def check_prime(prime, vocab, what="prime"):
    """Raise corpus.CorpusError (one line naming ``what``) for a prime too long or with unknown characters."""
    if len(prime) > MAX_PRIME_CHARS:
        raise corpus.CorpusError(f"{what} has {len(prime):,} characters, more than the {MAX_PRIME_CHARS:,} "
                                 f"a prime may have")
    unknown = sorted(set(prime) - set(vocab))
    if unknown:
        listed = ", ".join(repr(ch) for ch in unknown)
        raise corpus.CorpusError(f"{what} has {len(unknown)} character(s) outside the model's vocabulary: "
                                 f"{listed}")


def read_prime(path, vocab):
    """A prime's text from a UTF-8 file, checked like a corpus (a regular file, not endless) and by check_prime.

    Line endings become \\n unless the model knows \\r (a prime saved on Windows then fits
    a model trained on the usual text).
    """
    text, _ = corpus.read(path, keep_carriage_returns="\r" in vocab, what="prime", max_chars=MAX_PRIME_CHARS)
    check_prime(text, vocab, f"prime file {path}")
    return text


def sample_text(params, vocab, n, seed, temperature=1.0, prime="", first_char=None, top_p=1.0):
    """Sample n characters from h = 0 with a Generator seeded by seed.

    Args:
        params: model parameters; vocab: list of characters (index order).
        temperature: at least checks.MIN_TEMPERATURE; 1.0 is plain sampling.
        prime: text fed through the network first; the sample continues it.
        first_char: the first input when prime is empty (default ``start_char``).
        top_p: nucleus sampling's theta in (0, 1], after the temperature (lib.rnn.nucleus); 1.0 is plain.
    Returns:
        The sampled string (without the prime).
    Raises:
        corpus.CorpusError: prime or first_char has characters outside vocab, or prime is too long.
        checks.ParameterError: temperature is not a temperature, or top_p not in (0, 1].
    """
    temperature = checks.check("temperature", temperature, "temperature")
    top_p = checks.check("top_p", top_p, "top_p")
    check_prime(prime, vocab)
    prime_ids = corpus.encode(prime, vocab, what="prime (priming text)") if prime else None
    first = corpus.encode(first_char if first_char is not None else start_char(vocab), vocab,
                          what="first_char")
    if len(first) != 1:
        raise corpus.CorpusError(f"first_char must be one character, got {first_char!r}")
    drawn = network.synthesize(params, network.init_state(params), first[0], n, np.random.default_rng(seed),
                           temperature=temperature, prime=prime_ids, top_p=top_p)
    return corpus.decode(drawn, vocab)
