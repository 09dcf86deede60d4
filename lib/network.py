"""Which network a model is, and the calls that every network answers.

A network is a cell module and its sizes. Each cell module states its own equations and shapes in its
docstring and provides the same few functions, the model interface:

    CELL                                  its name: "rnn" (lib/rnn.py, the course's), "lstm", "gru"
    param_shapes(K, m, layers)            {name: shape}, in the order files and optimizers keep them
    init_state(params, batch_size)        the zero state before a text, a tuple of arrays: the vanilla
                                          cell's (h,), an LSTM's (h, c) for each layer, a GRU's (h,) each
    loss_and_grads(params, X, Y, state, loss, ...)   a batch's loss, its gradients and the state after it
    step(params, state, x)                one step, as sampling takes it: (state after x, logits)

The vanilla cell also keeps the course's one-sequence form (lib.rnn.loss_and_grads on (n,) arrays and an
(m,) state), which its runs of batch_size 1 train on, bit for bit as before.

Everything here takes a model's ``params`` and tells the network from its parameters' names: lib/rnn.py's
are b, c, U, W, V; a gated network's W1, b1 (a GRU's bn1 too), W2, ... for each layer and the output's V, c.
A model file also records its ``network`` (``describe``), and lib.training.checkpoint checks the two agree;
a file written before networks were recorded holds the vanilla cell. The training loop's use of a network
(the model object an optimizer updates) is lib.training.parts.
"""

import importlib
import math

import numpy as np

from lib import rnn

CELLS = ("rnn", "lstm", "gru")
# The generator behind a gated run's dropout masks: the run seed's stream DROPOUT_STREAM, spawned for
# each update (lib.training.parts), so that a continued run draws the masks a run never stopped draws.
DROPOUT_STREAM = 3


def module(cell):
    """The module of a cell: lib.rnn, lib.lstm or lib.gru."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(map(repr, CELLS))}, got {cell!r}")
    return importlib.import_module(f"lib.{cell}")


def cell_of(params):
    """The cell whose parameters these are, told by their names."""
    if "U" in params:
        return "rnn"
    return "gru" if "bn1" in params else "lstm"


def layers_of(params):
    """How many cells are stacked: 1 for the vanilla cell, the number of W1, W2, ... otherwise."""
    if cell_of(params) == "rnn":
        return 1
    layers = 0
    while f"W{layers + 1}" in params:
        layers += 1
    return layers


def sizes(params):
    """(K, m): the vocabulary's size and the hidden size, from the output layer V (K, m)."""
    return params["V"].shape


def describe(params):
    """What a model file records of its network: {"cell", "layers", "K", "m", "dtype"}."""
    K, m = sizes(params)
    return {"cell": cell_of(params), "layers": layers_of(params), "K": int(K), "m": int(m),
            "dtype": str(np.asarray(params["V"]).dtype)}


def label(params):
    """A reader's name for the network: "m=100" for the course's cell, "LSTM of 2 layers, m=256" for others."""
    m = sizes(params)[1]
    cell, layers = cell_of(params), layers_of(params)
    if cell == "rnn":
        return f"m={m}"
    return f"{cell.upper()} of {layers} layer{'s' if layers > 1 else ''}, m={m}"


def param_count(params):
    """How many numbers the network learns."""
    return int(sum(np.size(value) for value in params.values()))


def param_shapes(cell, K, m, layers=1):
    """{name: shape} of a network's parameters, in its module's order."""
    return module(cell).param_shapes(K, m, layers)


def init_params(settings, K, rng):
    """A new network's parameters as the settings say (cell, m, layers, dtype; the vanilla cell's init
    and sigma), drawn from rng."""
    if settings.get("cell", "rnn") == "rnn":
        params = rnn.init_params(K, settings["m"], settings["sigma"], rng, settings["init"])
        if settings.get("dtype", "float64") == "float64":
            return params
        return {name: value.astype(settings["dtype"]) for name, value in params.items()}
    return module(settings["cell"]).init_params(K, settings["m"], rng, settings["layers"],
                                                np.dtype(settings["dtype"]))


def init_state(params, batch_size=1):
    """The zero state before a text for batch_size streams (a tuple, see the module docstring). The vanilla
    cell's state for one stream is ((m,),), as the course writes it; every other is (batch_size, m) arrays."""
    state = module(cell_of(params)).init_state(params, batch_size)
    dtype = np.asarray(params["V"]).dtype
    return tuple(s.astype(dtype, copy=False) for s in state)


def first_stream(params, state):
    """The state of a batch's first stream, as one stream's state (a sample starts from it): the vanilla
    cell's (B, m) rows become (m,), a gated cell's (B, m) arrays (1, m)."""
    if cell_of(params) == "rnn":
        return tuple(s[0] if s.ndim == 2 else s for s in state)
    return tuple(s[:1] for s in state)


def pack_state(params, state):
    """A state as one array, as a checkpoint keeps it (``h_prev``): the vanilla cell's h itself, (m,) or
    (B, m); a gated network's arrays stacked, (len(state), B, m)."""
    return state[0] if cell_of(params) == "rnn" else np.stack(state)


def packed_state_shape(cell, layers, m, batch_size):
    """The shape of ``pack_state``'s array for a network and a batch."""
    if cell == "rnn":
        return (m,) if batch_size == 1 else (batch_size, m)
    return ((2 if cell == "lstm" else 1) * layers, batch_size, m)


def unpack_state(params, packed):
    """The tuple that ``pack_state`` packed, for the network of params."""
    return (packed,) if cell_of(params) == "rnn" else tuple(packed)


def step(params, state, x):
    """One step of one stream from state with input index x: (state after it, logits (K,))."""
    if cell_of(params) == "rnn":
        h, o = rnn.step(params, state[0], x)
        return (h,), o
    state, logits = module(cell_of(params)).step(params, state, np.array([x]))
    return state, logits[0]


def synthesize(params, state, x0, n, rng, temperature=1.0, prime=None, argmax=False, top_p=1.0):
    """n characters drawn one at a time, each fed back as the next input, as lib.rnn.synthesize draws
    them (its docstring gives the arguments; ``state`` is one stream's, a tuple). For the vanilla cell it
    is lib.rnn.synthesize itself."""
    if cell_of(params) == "rnn":
        return rnn.synthesize(params, state[0], x0, n, rng, temperature, prime, argmax, top_p)
    return np.fromiter(_gated_draws(params, state, x0, n, rng, temperature, prime, argmax, top_p),
                       dtype=np.int64, count=int(n))


def synthesize_blocks(params, state, x0, n, rng, temperature=1.0, prime=None, argmax=False, top_p=1.0,
                      block=4096):
    """``synthesize``'s characters in blocks of at most ``block`` (int64 arrays), memory flat however large n
    is; joined, the blocks are ``synthesize``'s array (lib.rnn_fast.synthesize_blocks for the vanilla cell)."""
    if cell_of(params) == "rnn":
        from lib import rnn_fast  # (lib.rnn_fast imports lib.rnn)
        yield from rnn_fast.synthesize_blocks(params, state[0], x0, n, rng, temperature, prime, argmax, top_p=top_p)
        return
    draws, left = _gated_draws(params, state, x0, n, rng, temperature, prime, argmax, top_p), int(n)
    while left > 0:
        size = min(block, left)
        yield np.fromiter(draws, dtype=np.int64, count=size)
        left -= size


def _gated_draws(params, state, x0, n, rng, temperature, prime, argmax, top_p):
    """A gated network's draws one index at a time, in float64, as lib.rnn.synthesize makes them."""
    rnn._check_sampling_args(n, temperature, top_p)
    params = {name: np.asarray(value, dtype=float) for name, value in params.items()}
    state = tuple(np.array(s, dtype=float) for s in state)
    x = int(x0)
    if prime is not None and len(prime) > 0:
        for t in prime[:-1]:
            state, _ = step(params, state, int(t))
        x = int(prime[-1])
    for _ in range(int(n)):
        state, o = step(params, state, x)
        x = rnn.draw(o, None if argmax else rng.random(), temperature, argmax, top_p)
        yield x


def bits_per_char(params, data, chunk=4096):
    """Mean cross-entropy in bits of predicting data[1:] from data[:-1], from the zero state, read in
    pieces of ``chunk`` characters with the state carried across."""
    from lib import rnn_fast  # (the vanilla cell's fast path; lib.rnn_fast imports lib.rnn)
    cell = cell_of(params)
    K, m = sizes(params)
    length = min(chunk, max(1, len(data) - 1))
    if cell == "rnn":
        work = rnn_fast.workspace(length, m, K, backward=False)
        read = lambda x, y, state: rnn_fast.loss(params, x, y, state[0], work)   # noqa: E731
    else:
        cell_module = module(cell)
        read = lambda x, y, state: cell_module.loss(params, x[None], y[None], state)   # noqa: E731
    state, total = init_state(params), 0.0
    for start in range(0, len(data) - 1, chunk):
        y = data[start + 1:start + chunk + 1]
        x = data[start:start + len(y)]
        part, last = read(x, y, state)
        state = last if isinstance(last, tuple) else (last,)
        total += part
    return float(total / ((len(data) - 1) * math.log(2)))
