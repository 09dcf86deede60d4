"""The parts train()'s loop is made of: a model, an optimizer and a walk through the text.

A model holds ``params``, ``grads`` and ``best`` (dicts of arrays shaped as the model
module's ``param_shapes`` says) and has ``loss_and_grads(x, y, h0) -> (loss, h_last)``,
``keep_best()`` and ``zeros()`` (a new dict of zero arrays shaped like the parameters). Two
models compute the same run: ``PlainModel`` on lib/rnn.py as the course writes it, and
lib.rnn_fast.FlatModel, the fast path, on flat buffers (train.ipynb's ``fast``).

An optimizer is made for one model (as PyTorch's are given a model's parameters) and has
``step()``, which changes ``model.params`` from ``model.grads``, and ``state()``, what a
checkpoint keeps to continue it bitwise: {"t": updates made, "arrays": {group: dict of
arrays}}. On the fast model it runs lib.rnn_fast's flat updates, on the plain one lib.rnn's
equations, the same numbers bit for bit.

A walk maps an epoch (1, 2, ...) to its chunks: (starts, lengths, resets), each an (n,)
array: chunk i's inputs are data[starts[i] : starts[i] + lengths[i]], its targets one
character on, and the hidden state is zeroed before it where resets[i].
"""

import numpy as np

from lib import rnn, rnn_fast


class PlainModel:
    """The model as lib/rnn.py computes it: dicts of arrays, one call per equation group."""

    fast = False

    def __init__(self, params, best, loss="sum"):
        self.loss = loss
        self.params = {name: np.array(params[name], dtype=float) for name in rnn.PARAM_NAMES}
        self.best = {name: np.array(best[name], dtype=float) for name in rnn.PARAM_NAMES}
        self.grads = self.zeros()

    def zeros(self):
        return {name: np.zeros_like(value) for name, value in self.params.items()}

    def loss_and_grads(self, x, y, h0):
        loss, self.grads, h_last = rnn.loss_and_grads(self.params, x, y, h0, self.loss)
        return loss, h_last

    def keep_best(self):
        for name in rnn.PARAM_NAMES:
            self.best[name][...] = self.params[name]


def make_model(params, best, settings):
    """The model of these settings (fast or plain), starting from params, with best kept."""
    if settings["fast"]:
        return rnn_fast.FlatModel(params, best, settings["seq_length"], settings["loss"])
    return PlainModel(params, best, settings["loss"])


class AdaGrad:
    """M = M + g^2, theta = theta - eta * g / sqrt(M + eps), g clipped first (lib.rnn.adagrad_step)."""

    def __init__(self, model, eta, clip, eps):
        self.memory = model.zeros()
        self.t = 0
        if model.fast:  # the flat buffers behind the model's dicts, looked up once
            theta, grad, memory = model.flat(model.params), model.flat(model.grads), model.flat(self.memory)
            scratch = np.empty_like(theta)
            self._update = lambda: rnn_fast.adagrad_step(theta, grad, memory, eta, scratch, clip, eps)
        else:
            self._update = lambda: rnn.adagrad_step(model.params, model.grads, self.memory, eta, clip, eps)

    def step(self):
        """One update of the model's parameters from its gradients."""
        self.t += 1
        self._update()

    def state(self):
        return {"t": self.t, "arrays": {"M": self.memory}}


class Adam:
    """Adam with bias correction (lib.rnn.adam_step): moments m and v, the update count t."""

    def __init__(self, model, eta, clip, eps, beta1, beta2):
        self.first, self.second = model.zeros(), model.zeros()
        self.t = 0
        if model.fast:
            theta, grad = model.flat(model.params), model.flat(model.grads)
            first, second = model.flat(self.first), model.flat(self.second)
            scratch = np.empty((2,) + theta.shape)
            self._update = lambda: rnn_fast.adam_step(theta, grad, first, second, self.t, eta, beta1, beta2, eps,
                                                      clip, scratch)
        else:
            self._update = lambda: rnn.adam_step(model.params, model.grads, self.first, self.second, self.t, eta,
                                                 beta1, beta2, eps, clip)

    def step(self):
        """One update of the model's parameters from its gradients (t counts it first: t = 1, 2, ...)."""
        self.t += 1
        self._update()

    def state(self):
        return {"t": self.t, "arrays": {"m": self.first, "v": self.second}}


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
            for name in rnn.PARAM_NAMES:
                arrays[name][...] = saved["arrays"][group][name]
    return optimizer


def optimizer_groups(settings):
    """The names of the arrays an optimizer of these settings keeps (a checkpoint's groups)."""
    return ("m", "v") if settings.get("optimizer") == "adam" else ("M",)


def stream_chunks(n_train, seq_length):
    """The course's walk through one epoch: chunk i covers inputs [i L, (i + 1) L) of the n_train
    training characters; the hidden state is carried across and zeroed only before the first.

    Returns:
        (starts, lengths, resets): (n,) int arrays of each chunk's first input position and
        length, and (n,) bool, True where the hidden state is zeroed before the chunk.
    """
    n = max(0, (n_train - 1) // seq_length)
    resets = np.zeros(n, dtype=bool)
    resets[:1] = True
    return np.arange(n, dtype=np.int64) * seq_length, np.full(n, seq_length, dtype=np.int64), resets


def course_walk(n_train, seq_length):
    """The walk of every epoch the same: ``stream_chunks``."""
    chunks = stream_chunks(n_train, seq_length)
    return lambda epoch: chunks
