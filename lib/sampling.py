"""Text from a trained model: characters in, characters out."""

import numpy as np

from . import corpus, rnn


def start_char(vocab):
    """The first input when no text is given: a newline (a fresh line), else a space, else vocab[0]."""
    for ch in ("\n", " "):
        if ch in vocab:
            return ch
    return vocab[0]


def sample_text(params, vocab, n, seed, temperature=1.0, prime="", first_char=None):
    """Sample n characters from h = 0 with a Generator seeded by seed.

    Args:
        params: model parameters; vocab: list of characters (index order).
        temperature: > 0; 1.0 is plain sampling.
        prime: text fed through the network first; the sample continues it.
        first_char: the first input when prime is empty (default ``start_char``).
    Returns:
        The sampled string (without the prime).
    Raises:
        corpus.CorpusError: prime or first_char has characters outside vocab.
        ValueError: temperature <= 0.
    """
    prime_ids = corpus.encode(prime, vocab, what="prime (priming text)") if prime else None
    first = corpus.encode(first_char if first_char is not None else start_char(vocab), vocab,
                          what="first_char")
    if len(first) != 1:
        raise corpus.CorpusError(f"first_char must be one character, got {first_char!r}")
    h0 = np.zeros(params["W"].shape[0])
    drawn = rnn.synthesize(params, h0, first[0], n, np.random.default_rng(seed),
                           temperature=temperature, prime=prime_ids)
    return corpus.decode(drawn, vocab)
