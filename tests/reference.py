"""Independent computations the tests compare the library against."""

import math

import numpy as np


def bits_per_char(params, data):
    """Cross-entropy in bits of data[1:] given data[:-1], one character at a time from h = 0."""
    h = np.zeros(params["W"].shape[0])
    total = 0.0
    for x, y in zip(data[:-1], data[1:]):
        h = np.tanh(params["W"] @ h + params["U"][:, x] + params["b"])
        o = params["V"] @ h + params["c"]
        total += math.log(np.exp(o - o.max()).sum()) + o.max() - o[y]
    return total / (len(data) - 1) / math.log(2)
