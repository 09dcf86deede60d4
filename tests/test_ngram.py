"""The numpy Kneser-Ney models of lib/inside/ngram.py against a plain dictionary implementation."""

import math
from collections import Counter, defaultdict

import numpy as np
import pytest

from lib.inside import ngram
from lib.text import corpus


def reference_probability(train, K, n):
    """Interpolated Kneser-Ney written out with dictionaries of tuples: a function (context, w) -> p."""
    raw = {j: Counter(tuple(train[i:i + j]) for i in range(len(train) - j + 1)) for j in range(1, n + 1)}
    continuation = {j: Counter(gram[1:] for gram in raw[j + 1]) for j in range(1, n)}
    table = {j: raw[j] if j == n else continuation[j] for j in range(1, n + 1)}
    discount, totals, followers = {}, {}, {}
    for j, counts in table.items():
        ones = sum(1 for v in counts.values() if v == 1)
        twos = sum(1 for v in counts.values() if v == 2)
        discount[j] = ones / (ones + 2 * twos) if ones + twos else 0.0
        totals[j], followers[j] = defaultdict(int), defaultdict(int)
        for gram, v in counts.items():
            totals[j][gram[:-1]] += v
            followers[j][gram[:-1]] += 1

    def probability(context, w):
        p = 1.0 / K
        for j in range(1, len(context) + 2):
            h = tuple(context[len(context) - (j - 1):]) if j > 1 else ()
            total = totals[j].get(h, 0)
            if total == 0:
                continue                                  # unseen context: all to the level below
            p = (max(table[j].get(h + (w,), 0) - discount[j], 0) + discount[j] * followers[j][h] * p) / total
        return p

    return probability, discount


@pytest.fixture(scope="module")
def texts(english_text):
    vocab = corpus.build_vocab(english_text)
    train = corpus.encode(english_text[:380], vocab)
    heldout = corpus.encode(english_text[380:], vocab)
    return vocab, train, heldout


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6])
def test_probabilities_equal_a_dictionary_implementation(texts, n):
    vocab, train, heldout = texts
    K = len(vocab)
    model = ngram.KneserNey(train, K, 6)
    probability, discount = reference_probability(list(train), K, n)
    expected = [probability(list(heldout[max(0, t - n + 2):t + 1]), heldout[t + 1]) for t in range(len(heldout) - 1)]
    np.testing.assert_allclose(model.probabilities(heldout, n), expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.discounts(n), [discount[j] for j in range(1, n + 1)], rtol=0, atol=1e-12)
    bits = -sum(math.log2(p) for p in expected) / len(expected)
    assert abs(model.bits_per_char(heldout, n) - bits) < 1e-9


def test_distributions_sum_to_one(texts):
    vocab, train, heldout = texts
    K = len(vocab)
    model = ngram.KneserNey(train, K, 4)
    # Every next character after one context (a seen one and one never seen).
    for context in (list(train[10:13]), [K - 1, K - 1, K - 1]):
        rows = np.array([context + [w] for w in range(K)])
        total = sum(model.probabilities(row, 4)[-1] for row in rows)
        assert abs(total - 1) < 1e-12


def test_counts_need_int64_ids():
    with pytest.raises(ValueError, match="int64"):
        ngram.KneserNey(np.zeros(10, dtype=int), 200, 9)
