"""The parts train()'s loop is made of: a model, an optimizer and a walk through the text.

A model holds ``params``, ``grads`` and ``best`` (dicts of arrays shaped as its network's
``param_shapes`` says, lib/network.py) and has ``loss_and_grads(x, y, state, update) -> (loss,
state_last)`` (state a tuple of arrays, lib.network.init_state; update the number of the update,
from which a gated network draws its dropout masks), ``keep_best()`` and ``zeros()`` (a new dict
of zero arrays shaped like the parameters). Two models compute the course's vanilla cell, the
same run: ``PlainModel`` on lib/rnn.py as the course writes it, and lib.rnn_fast.FlatModel, the
fast path, on flat buffers (train.ipynb's ``fast``). ``GatedModel`` computes an LSTM or a GRU
(lib/lstm.py, lib/gru.py) on flat buffers.

An optimizer is made for one model (as PyTorch's are given a model's parameters) and has
``step()``, which changes ``model.params`` from ``model.grads``, and ``state()``, what a
checkpoint keeps to continue it bitwise: {"t": updates made, "arrays": {group: dict of
arrays}}. On the fast model it runs lib.rnn_fast's flat updates, on the plain one lib.rnn's
equations, the same numbers bit for bit.

A walk maps an epoch (1, 2, ...) to its chunks: (starts, lengths, resets), each an (n,)
array: chunk i's inputs are data[starts[i] : starts[i] + lengths[i]], its targets one
character on, and the hidden state is zeroed before it where resets[i]. With a batch of
B > 1 sequences per update, starts and resets are (n, B): update i takes the B sequences
data[starts[i, j] : starts[i, j] + lengths[i]], stream j's hidden state zeroed where resets[i, j].

The orders (train.ipynb's ``order``; ``make_walk``), on the training text of N characters:

* "sequential", the course's: the text from its start in seq_length chunks, the hidden state
  carried across and zeroed when an epoch starts. With B > 1, the text is cut into B equal
  streams walked side by side, each with its own hidden state (as char-rnn does).
* "chunks": the text cut into ``chunks`` equal pieces of P = N // chunks characters (the last
  N - chunks P unused), visited in a new random order each epoch, each walked as the course
  walks the book: (P - 1) // seq_length sequences, the hidden state zeroed at its start. With
  B > 1, B pieces at a time, walked side by side (B must divide the number of pieces).
* "random": each sequence from a uniformly random start in [0, N - seq_length - 1], the hidden
  state zeroed before it. An epoch is as many sequences as the course's walk of the text has,
  (N - 1) // seq_length, in updates of B.

``val_chunk`` sets one of the ``chunks`` pieces aside (``split_pieces``): the training text is
then the text without it, the parts before and after it joined (as the corpus joins its plays),
whatever the order. The random orders draw from a generator of their own, seeded by the run's
seed and the epoch (``order_rng``): the initial weights and the samples do not depend on them,
and an epoch's walk is known from its number alone, so a checkpoint continues it mid-epoch.
"""

import numpy as np

from lib import checks, network, rnn, rnn_fast
from lib.training.settings import ORDERS  # noqa: F401  (the orders the walks below make)


class PlainModel:
    """The model as lib/rnn.py computes it: dicts of arrays, one call per equation group."""

    fast = False

    def __init__(self, params, best, loss="sum", batch_size=1):
        self.loss, self.batch_size = loss, batch_size
        self.params = {name: np.array(params[name]) for name in params}   # (copies, in the run's dtype)
        self.best = {name: np.array(best[name]) for name in params}
        self.grads = self.zeros()

    def zeros(self):
        return {name: np.zeros_like(value) for name, value in self.params.items()}

    def loss_and_grads(self, x, y, state, update=None):
        if self.batch_size == 1:
            loss, self.grads, h_last = rnn.loss_and_grads(self.params, x, y, state[0], self.loss)
        else:
            loss, self.grads, h_last = rnn.loss_and_grads_batch(self.params, x, y, state[0], self.loss)
        return loss, (h_last,)

    def keep_best(self):
        for name in self.params:
            self.best[name][...] = self.params[name]


class GatedModel:
    """A gated network (lib/lstm.py, lib/gru.py) in training: parameters, gradients and the best model as
    views into flat buffers, as lib.rnn_fast.FlatModel keeps them, so that both optimizers update it in a
    few flat calls (fast) or name by name (``fast`` False, lib.rnn's equations)."""

    def __init__(self, params, best, loss="sum", dropout=0.0, seed=0, fast=True):
        self.cell = network.module(network.cell_of(params))
        self.loss, self.dropout, self.seed, self.fast = loss, dropout, seed, fast
        self._shapes = {name: np.shape(value) for name, value in params.items()}
        self._dtype = np.asarray(params["V"]).dtype
        self._buffers = {}
        self.params, self.best, self.grads = self.zeros(), self.zeros(), self.zeros()
        for views, given in ((self.params, params), (self.best, best)):
            for name in views:
                views[name][...] = given[name]

    def zeros(self):
        """A dict of zero arrays shaped like the parameters: views into one new flat buffer."""
        flat = rnn_fast.flat_buffer(self._shapes, self._dtype)
        views = rnn_fast.flat_views(flat, self._shapes)
        self._buffers[id(views)] = flat
        return views

    def flat(self, views):
        """The flat buffer behind a dict that ``zeros`` made."""
        return self._buffers[id(views)]

    def loss_and_grads(self, x, y, state, update=None):
        """(loss, state_last) of one update's sequences, x and y (n,) or (B, n); the gradients land in
        ``self.grads``. The dropout masks come from the run seed's generator for this update."""
        X, Y = np.reshape(x, (-1, np.shape(x)[-1])), np.reshape(y, (-1, np.shape(y)[-1]))
        rng = None if self.dropout == 0 else np.random.default_rng(
            np.random.SeedSequence(self.seed, spawn_key=(network.DROPOUT_STREAM, int(update))))
        loss, grads, state_last = self.cell.loss_and_grads(self.params, X, Y, state, self.loss, self.dropout, rng)
        for name, grad in grads.items():
            self.grads[name][...] = grad
        return loss, state_last

    def keep_best(self):
        """Copy the current parameters into ``self.best``."""
        self.flat(self.best)[:] = self.flat(self.params)


def make_model(params, best, settings):
    """The model of these settings (fast or plain; vanilla or gated), starting from params, with best kept."""
    batch_size = settings.get("batch_size", 1)
    if network.cell_of(params) != "rnn":
        return GatedModel(params, best, settings["loss"], settings["dropout"], settings["seed"], settings["fast"])
    if settings["fast"]:
        return rnn_fast.FlatModel(params, best, settings["seq_length"], settings["loss"], batch_size)
    return PlainModel(params, best, settings["loss"], batch_size)


class AdaGrad:
    """M = M + g^2, theta = theta - eta * g / sqrt(M + eps), g clipped first (lib.rnn.adagrad_step).
    ``eta`` may be changed between updates (an eta_decay's schedule)."""

    GROUPS = ("M",)   # the arrays state() keeps, by name

    def __init__(self, model, eta, clip, eps):
        self.memory = model.zeros()
        self.t, self.eta = 0, eta
        if model.fast:  # the flat buffers behind the model's dicts, looked up once
            theta, grad, memory = model.flat(model.params), model.flat(model.grads), model.flat(self.memory)
            scratch = np.empty_like(theta)
            self._update = lambda: rnn_fast.adagrad_step(theta, grad, memory, self.eta, scratch, clip, eps)
        else:
            self._update = lambda: rnn.adagrad_step(model.params, model.grads, self.memory, self.eta, clip, eps)

    def step(self):
        """One update of the model's parameters from its gradients."""
        self.t += 1
        self._update()

    def state(self):
        return {"t": self.t, "arrays": dict(zip(self.GROUPS, (self.memory,)))}


class Adam:
    """Adam with bias correction (lib.rnn.adam_step): moments m and v, the update count t; ``eta`` may be
    changed between updates."""

    GROUPS = ("m", "v")

    def __init__(self, model, eta, clip, eps, beta1, beta2):
        self.first, self.second = model.zeros(), model.zeros()
        self.t, self.eta = 0, eta
        if model.fast:
            theta, grad = model.flat(model.params), model.flat(model.grads)
            first, second = model.flat(self.first), model.flat(self.second)
            scratch = np.empty((2,) + theta.shape, dtype=theta.dtype)
            self._update = lambda: rnn_fast.adam_step(theta, grad, first, second, self.t, self.eta, beta1, beta2,
                                                      eps, clip, scratch)
        else:
            self._update = lambda: rnn.adam_step(model.params, model.grads, self.first, self.second, self.t,
                                                 self.eta, beta1, beta2, eps, clip)

    def step(self):
        """One update of the model's parameters from its gradients (t counts it first: t = 1, 2, ...)."""
        self.t += 1
        self._update()

    def state(self):
        return {"t": self.t, "arrays": dict(zip(self.GROUPS, (self.first, self.second)))}


def epoch_eta(settings, epoch):
    """The learning rate of an epoch (1, 2, ...): eta * eta_decay^(epoch - 1)."""
    return settings["eta"] * settings.get("eta_decay", 1.0) ** (epoch - 1)


def make_optimizer(model, settings, saved=None):
    """The optimizer of these settings for model's parameters; ``saved`` (an optimizer's ``state()`` read back
    from a checkpoint) continues it where it stopped."""
    if settings["optimizer"] == "adam":
        optimizer = Adam(model, settings["eta"], settings["clip"], settings["eps"],
                         settings["beta1"], settings["beta2"])
    else:
        optimizer = AdaGrad(model, settings["eta"], settings["clip"], settings["eps"])
    if saved is not None:
        optimizer.t = saved["t"]
        for group, arrays in optimizer.state()["arrays"].items():
            for name in arrays:
                arrays[name][...] = saved["arrays"][group][name]
    return optimizer


def optimizer_groups(settings):
    """The names of the arrays an optimizer of these settings keeps (a checkpoint's groups)."""
    return (Adam if settings.get("optimizer") == "adam" else AdaGrad).GROUPS


def steps_per_epoch(n_train, seq_length):
    """Number of chunks (updates) of seq_length characters in one pass over n_train characters."""
    return max(0, (n_train - 1) // seq_length)


def stream_chunks(n_train, seq_length):
    """The course's walk through one epoch: chunk i covers inputs [i L, (i + 1) L) of the n_train
    training characters; the hidden state is carried across and zeroed only before the first.

    Returns:
        (starts, lengths, resets): (n,) int arrays of each chunk's first input position and
        length, and (n,) bool, True where the hidden state is zeroed before the chunk.
    """
    n = steps_per_epoch(n_train, seq_length)
    resets = np.zeros(n, dtype=bool)
    resets[:1] = True
    return np.arange(n, dtype=np.int64) * seq_length, np.full(n, seq_length, dtype=np.int64), resets


def course_walk(n_train, seq_length):
    """The walk of every epoch the same: ``stream_chunks``."""
    chunks = stream_chunks(n_train, seq_length)
    return lambda epoch: chunks


# ----------------------------------------------------------- the orders (see the module docstring)
# spawn_key of the SeedSequence behind each epoch's order (the walks here, record mode's): train()
# spawns the initial weights (0,) and the samples (1,) from the same seed; the order is (2, epoch).
ORDER_STREAM = 2


def order_rng(seed, epoch):
    """The generator of an epoch's order: the run seed's stream ORDER_STREAM, spawned for the epoch
    (train() spawns the initial weights (0,) and the samples (1,) from the same seed)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ORDER_STREAM, int(epoch))))


def validation_piece(n_train, chunks, val_chunk):
    """(start, end) of piece val_chunk of the n_train training characters cut into chunks pieces, or None."""
    if val_chunk is None:
        return None
    size = n_train // chunks
    return val_chunk * size, (val_chunk + 1) * size


def split_pieces(data, chunks, val_chunk):
    """(training data, validation piece): data without piece val_chunk, the parts either side joined,
    and that piece; (data, None) when val_chunk is None."""
    piece = validation_piece(len(data), chunks, val_chunk)
    if piece is None:
        return data, None
    start, end = piece
    return np.concatenate((data[:start], data[end:])), data[start:end]


def make_walk(n_train, settings):
    """The walk of these settings (order, chunks, val_chunk, batch_size, seq_length, seed) through a training
    text of n_train characters, before val_chunk's piece is cut out of it (``split_pieces``).

    Raises:
        checks.ParameterError: one line naming the setting the text is too short for.
    """
    L, B, order = settings["seq_length"], settings["batch_size"], settings["order"]
    chunks, val_chunk = settings["chunks"], settings["val_chunk"]
    size = None if chunks is None else n_train // chunks
    if chunks is not None and (size - 1) // L < 1:
        raise checks.ParameterError(
            f"chunks={chunks} is more chunks than the text has sequences: a piece of {n_train:,} // {chunks} = "
            f"{size:,} characters holds no sequence of seq_length + 1 = {L + 1} (at most "
            f"{n_train // (L + 1):,} chunks)")
    n = n_train - (size if val_chunk is not None else 0)
    if order == "chunks":
        return chunk_walk(chunks - (val_chunk is not None), size, L, B, settings["seed"], chunks)
    if order == "random":
        return random_walk(n, L, B, settings["seed"])
    return course_walk(n, L) if B == 1 else stream_walk(n, L, B)


def stream_walk(n_train, seq_length, streams):
    """The sequential order with a batch: the text cut into ``streams`` equal parts of S = n_train // streams
    characters, walked side by side as the course walks the book, each part's hidden state zeroed
    when an epoch starts; (S - 1) // seq_length updates an epoch."""
    size = n_train // streams
    count = (size - 1) // seq_length
    if count < 1:
        raise checks.ParameterError(
            f"batch_size={streams} is more streams than the text allows: each of {n_train:,} // {streams} = "
            f"{size:,} characters holds no sequence of seq_length + 1 = {seq_length + 1} (at most "
            f"{n_train // (seq_length + 1):,} streams)")
    starts = np.arange(streams, dtype=np.int64) * size + (np.arange(count, dtype=np.int64) * seq_length)[:, None]
    resets = np.zeros((count, streams), dtype=bool)
    resets[0] = True
    chunks = starts, np.full(count, seq_length, dtype=np.int64), resets
    return lambda epoch: chunks


def chunk_walk(n_pieces, size, seq_length, batch_size, seed, chunks):
    """The chunks order: n_pieces pieces of ``size`` characters (piece k at k size), in a new order each epoch
    (``order_rng``), each walked as the course walks the book from a zero hidden state; batch_size of
    them side by side. ``chunks`` (the setting) only words the error."""
    if n_pieces % batch_size:
        raise checks.ParameterError(
            f"batch_size={batch_size} must divide the {n_pieces} pieces order='chunks' trains on (chunks={chunks}"
            f"{', one of them the val_chunk' if n_pieces < chunks else ''}): each update walks batch_size pieces "
            f"side by side")
    per_piece = (size - 1) // seq_length
    offsets = np.arange(per_piece, dtype=np.int64) * seq_length

    def walk(epoch):
        order = order_rng(seed, epoch).permutation(n_pieces).astype(np.int64)
        groups = order.reshape(n_pieces // batch_size, batch_size)        # side by side
        starts = (groups[:, None, :] * size + offsets[None, :, None]).reshape(-1, batch_size)
        resets = np.zeros(starts.shape, dtype=bool)
        resets[::per_piece] = True
        if batch_size == 1:
            starts, resets = starts[:, 0], resets[:, 0]
        return starts, np.full(len(starts), seq_length, dtype=np.int64), resets
    return walk


def random_walk(n_train, seq_length, batch_size, seed):
    """The random order: every sequence from a uniformly random start in [0, n_train - seq_length - 1]
    (``order_rng``), from a zero hidden state; (n_train - 1) // seq_length sequences an epoch, as many
    as the course's walk, in updates of batch_size."""
    sequences_per_epoch = steps_per_epoch(n_train, seq_length)
    count = sequences_per_epoch // batch_size
    if count < 1:
        raise checks.ParameterError(
            f"batch_size={batch_size} is more sequences than an epoch of order='random' has "
            f"({sequences_per_epoch:,} of seq_length {seq_length} in {n_train:,} characters)")
    shape = (count,) if batch_size == 1 else (count, batch_size)

    def walk(epoch):
        starts = order_rng(seed, epoch).integers(0, n_train - seq_length, size=shape, dtype=np.int64)
        return starts, np.full(count, seq_length, dtype=np.int64), np.ones(shape, dtype=bool)
    return walk


def sequences(data, starts, length):
    """The inputs and targets of one update: data[start : start + length] and one character on; with
    starts (B,), (B, length) arrays, row j from starts[j]."""
    if np.ndim(starts) == 0:
        return data[starts:starts + length], data[starts + 1:starts + length + 1]
    at = starts[:, None] + np.arange(length)
    return data[at], data[at + 1]


def zero_states(state, resets):
    """The state (a tuple of arrays) with each stream's zeroed where resets says: arrays (m,) and resets a
    bool, or arrays (B, m) and resets (B,) (a gated network's (1, m) and a bool for one stream)."""
    zeroed = []
    for h in state:
        h = h.copy()
        h[resets] = 0.0
        zeroed.append(h)
    return tuple(zeroed)
