"""Character n-gram models with interpolated Kneser-Ney smoothing, counted with numpy.

The yardstick for the RNN: how well does plain counting predict the next character?
An n-gram model predicts character t + 1 from the n - 1 characters before it. Its
probability mixes the levels 1 .. n, each with one absolute discount D_j:

    P_j(w | h) = max(c_j(h w) - D_j, 0) / c_j(h .)  +  D_j N_j(h .) / c_j(h .) * P_{j-1}(w | h')
    P_0(w)     = 1 / K                                  (the uniform distribution)

where h is the last j - 1 characters, h' is h without its first character,
c_j(h .) = sum over w of c_j(h w), N_j(h .) is the number of w with c_j(h w) > 0, and
a context h never seen (c_j(h .) = 0) hands its whole mass to the level below:
P_j(w | h) = P_{j-1}(w | h'). At the top level c_n is the raw count; below it c_j is the
continuation count, the number of distinct characters seen just before h w, because
a lower level only speaks when the context is new, and then what matters is how
many contexts a character follows, not how often. D_j = n1 / (n1 + 2 n2), with n1 and
n2 the number of j-grams whose count (of the kind used at level j) is 1 and 2. A level with
no j-gram seen once (a short or very repetitive text) would get D_j = 0, no mass for what
it never saw, and a probability of 0 (infinite bits) for it: there the estimate is taken as
if one j-gram had been seen once, D_j = 1 / (1 + 2 n2), so that every figure is finite.

A j-gram is stored as one integer, its characters read as the digits of a base-K
number, so counting is sorting (np.unique) and looking up is np.searchsorted: no
Python dictionary is touched per n-gram. K^j must fit in int64 (K = 65: j <= 10).
"""

import math

import numpy as np


def gram_ids(data, j, K):
    """(len(data) - j + 1,) int64: the id of the j-gram starting at each position of data."""
    data = np.asarray(data, dtype=np.int64)
    ids = np.zeros(max(len(data) - j + 1, 0), dtype=np.int64)
    for i in range(j):
        ids = ids * K + data[i:len(data) - j + 1 + i]
    return ids


def _discount(counts):
    """D = n1 / (n1 + 2 n2); with n1 = 0, as if one j-gram had been seen once (module docstring)."""
    n1, n2 = np.count_nonzero(counts == 1), np.count_nonzero(counts == 2)
    n1 = max(n1, 1)
    return n1 / (n1 + 2 * n2)


class _Level:
    """The counts of one level j: sorted j-gram ids and their counts, and per context
    (the j-gram's first j - 1 characters) the total count and number of distinct next characters."""

    def __init__(self, ids, counts, K):
        self.ids, self.counts = ids, counts
        self.discount = _discount(counts)
        contexts = ids // K                          # ids are sorted, so their contexts are too
        self.contexts, first, self.followers = np.unique(contexts, return_index=True, return_counts=True)
        self.context_totals = np.add.reduceat(counts, first) if len(counts) else counts

    def lookup(self, keys, table, values):
        """values[i] where table[i] == key, 0 where the key is absent; table sorted."""
        if len(table) == 0:
            return np.zeros(len(keys), dtype=values.dtype)
        at = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        return np.where(table[at] == keys, values[at], 0)


class KneserNey:
    """Interpolated Kneser-Ney models of every order 1 .. n_max, fitted on one text.

    Args:
        data: (N,) int array of character indices, the training text.
        K: vocabulary size (indices are 0 .. K - 1).
        n_max: the highest order.
    """

    def __init__(self, data, K, n_max):
        if K ** n_max >= 2 ** 63:
            raise ValueError(f"n-grams of order {n_max} over {K} characters do not fit in int64 ids")
        self.K, self.n_max = K, n_max
        self.raw, self.continuation = {}, {}
        distinct_above = None                        # the distinct (j + 1)-grams, for level j's continuation counts
        for j in range(n_max, 0, -1):
            ids, counts = np.unique(gram_ids(data, j, K), return_counts=True)
            self.raw[j] = _Level(ids, counts, K)
            if distinct_above is not None:
                # Each distinct (j + 1)-gram x h w adds one to the continuation count of h w.
                suffixes, cont = np.unique(distinct_above % K ** j, return_counts=True)
                self.continuation[j] = _Level(suffixes, cont, K)
            distinct_above = ids

    def level(self, n, j):
        """The counts level j uses in the model of order n: raw at the top, continuation below."""
        return self.raw[j] if j == n else self.continuation[j]

    def discounts(self, n):
        """[D_1, ..., D_n] of the order-n model."""
        return [float(self.level(n, j).discount) for j in range(1, n + 1)]

    def probabilities(self, data, n):
        """(len(data) - 1,) probability the order-n model gives data[t + 1] after data[:t + 1].

        Position t uses the last min(n - 1, t + 1) characters: near the start, fewer.
        """
        data = np.asarray(data, dtype=np.int64)
        K, positions = self.K, np.arange(len(data) - 1)
        following = data[1:]
        p = np.full(len(positions), 1.0 / K)
        context = np.zeros(len(positions), dtype=np.int64)   # id of the last j - 1 characters
        for j in range(1, n + 1):
            if j > 1:
                # Extend each context by one character further back (absent before the start).
                back = positions - (j - 2)
                reach = back >= 0
                context = context + np.where(reach, data[np.maximum(back, 0)], 0) * K ** (j - 2)
            else:
                reach = np.ones(len(positions), dtype=bool)
            level = self.level(n, j)
            key = context * K + following
            count = level.lookup(key, level.ids, level.counts).astype(float)
            total = level.lookup(context, level.contexts, level.context_totals).astype(float)
            followers = level.lookup(context, level.contexts, level.followers).astype(float)
            seen = reach & (total > 0)
            safe = np.where(seen, total, 1.0)
            mixed = (np.maximum(count - level.discount, 0.0) + level.discount * followers * p) / safe
            p = np.where(seen, mixed, p)
        return p

    def bits_per_char(self, data, n):
        """Mean of -log2 P(data[t + 1] | its context) over t = 0 .. len(data) - 2."""
        return float(-np.mean(np.log(self.probabilities(data, n))) / math.log(2))


# The yardstick every run's summary gives beside its held-out reading: the orders 1 .. BASELINE_ORDERS.
BASELINE_ORDERS = 8


def baselines(training, heldout, K, n_max=BASELINE_ORDERS):
    """The held-out bits per character of each order 1 .. n_max fitted on the training data (both encoded
    with one vocabulary of K characters), and the best of them:
    {"orders": [{"n", "bits_per_char"}, ...], "best": {"n", "bits_per_char"}}."""
    fitted = KneserNey(training, K, n_max)
    orders = [{"n": n, "bits_per_char": float(-np.log2(fitted.probabilities(heldout, n)).mean())}
              for n in range(1, n_max + 1)]
    return {"orders": orders, "best": min(orders, key=lambda e: e["bits_per_char"])}
