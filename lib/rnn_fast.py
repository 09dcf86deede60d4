"""The training path: lib.rnn's equations computed fast. A first reading can skip this file.

lib/rnn.py writes each equation as it stands in the course; this module computes the same
numbers for the training loop with what made it faster here (``make bench``): the arrays an
update works in made once (a ``workspace``) and reused, each on a 64-byte boundary; row views
made in advance so that the loop over time is three numpy calls and nothing else; row and
column sums as BLAS products with ones-vectors; dU as one product with a one-hot matrix; all
parameters in one flat buffer so that clipping, AdaGrad and Adam are a handful of calls; sampling
without allocating. tests/test_rnn.py holds this path to lib.rnn: the same floating-point
operations in the same order (lib.rnn writes its sums over t as the same products with ones, and dU
as the same one-hot product), so the same loss, gradients, states and updates bit for bit, and the
same training run, for one sequence or a batch.
The course's training runs come from this path unless train.ipynb is given fast=False.
"""

import math

import numpy as np

from lib.rnn import (ADAGRAD_EPS, GRAD_CLIP, LOSSES, PARAM_NAMES, _check_sampling_args,  # noqa: F401
                     nucleus_sample, softmax_sample)

# The arrays the training loop computes in start on a cache line, where BLAS runs aligned loads.
ALIGN_BYTES = 64


def aligned_zeros(shape, dtype=float):
    """np.zeros(shape, dtype) whose first element lies on an ALIGN_BYTES boundary."""
    nbytes = math.prod(np.atleast_1d(shape).tolist()) * np.dtype(dtype).itemsize
    raw = np.zeros(nbytes + ALIGN_BYTES, dtype=np.uint8)
    skip = -raw.ctypes.data % ALIGN_BYTES
    return raw[skip:skip + nbytes].view(dtype).reshape(shape)


def _aligned_copy(array):
    out = aligned_zeros(np.shape(array))
    out[...] = array
    return out


def workspace(n, m, K, dtype=float, backward=True, aligned=True):
    """Arrays for ``forward`` and ``backward`` on sequences of up to n characters.

    A training loop makes one and passes it to every ``loss_and_grads`` call, so an
    update allocates nothing; without one, each call makes its own. Shapes:
    H (n + 1, m), A_in (n, m), P (n, K), a (m,), and unless backward=False (a loss
    alone, as an evaluation needs) dO (n, K), dH (n, m), dtanh (n, m), dA (n, m),
    back (m,), onehot (n, K) of zeros; ``<name>_rows`` are lists of their row views,
    made once (making them costs as much as a timestep). aligned=False: plain arrays,
    quicker to make, for a single call.
    """
    z = aligned_zeros if aligned else np.zeros
    # (The ones are float64 for a complex dtype too: a product with them keeps the complex part.)
    ones_dtype = dtype if np.dtype(dtype) == np.float32 else float
    work = {"H": z((n + 1, m), dtype), "A_in": z((n, m), dtype), "P": z((n, K), dtype), "a": z(m, dtype),
            "ones_n": np.ones(n, ones_dtype), "ones_K": np.ones(K, ones_dtype), "t": np.arange(n), "n": n,
            "dtype": np.dtype(dtype)}
    rows = ["H", "A_in"]
    if backward:
        work.update(dO=z((n, K), dtype), dH=z((n, m), dtype), dtanh=z((n, m), dtype), dA=z((n, m), dtype),
                    back=z(m, dtype), onehot=z((n, K), ones_dtype))
        rows += ["dH", "dtanh", "dA"]
    for name in rows:
        work[name + "_rows"] = list(work[name])
    return work


def _dtype(params, h0):
    """The dtype a pass computes in: complex when a complex step is anywhere."""
    return np.result_type(h0, *(params[k] for k in PARAM_NAMES))


def _fits(work, n, m, K, dtype, backward=False):
    return work is not None and work["n"] >= n and work["H"].shape[1] == m and work["P"].shape[1] == K \
        and work["dtype"] == dtype and (not backward or "dO" in work)


def forward(params, x, h0, work=None):
    """Run the recurrence over a sequence and return what backward needs.

    Works in any floating or complex dtype that the parameters carry (the
    complex-step gradient check runs it in complex128).

    Args:
        params: dict of b (m,), c (K,), U (m, K), W (m, m), V (K, m).
        x: (n,) int input indices.  h0: (m,) hidden state before x[0].
        work: a ``workspace`` to compute in (the returned arrays are its views,
            overwritten by the next call); None: fresh arrays.
    Returns:
        H: (n + 1, m) hidden states, H[0] = h0 and H[t + 1] = h_t.
        P: (n, K) softmax probabilities p_t.
    """
    W, U = params["W"], params["U"]
    n = len(x)
    m, K = U.shape
    dtype = _dtype(params, h0)
    if not _fits(work, n, m, K, dtype):
        work = workspace(n, m, K, dtype, backward=False, aligned=False)
    H, A_in, P = work["H"][:n + 1], work["A_in"][:n], work["P"][:n]
    # Batch the input projection for the whole chunk; only W h_{t-1} is sequential.
    np.add(U.T[x], params["b"], out=A_in)                 # row t: column x_t of U, plus b
    H[0] = h0
    a = work["a"]
    # The loop is the bulk of a training step: each iteration is three numpy calls on
    # row views made in advance, and nothing else. The bound method W.dot skips np.dot's
    # dispatch layer (~0.2 us a call, the same product); each call's last argument is
    # its output, given by position (a keyword costs a little more).
    W_dot, add, tanh = W.dot, np.add, np.tanh
    h_rows, a_rows = work["H_rows"], work["A_in_rows"]
    for t in range(n):
        W_dot(h_rows[t], a)
        add(a, a_rows[t], a)
        tanh(a, h_rows[t + 1])
    H[1:].dot(params["V"].T, out=P)                       # (n, K) logits, then probabilities
    P += params["c"]
    # Shifting by the real part of the row maximum keeps exp() in range and
    # leaves the imaginary part of a complex step untouched.
    P -= P.real.max(axis=1, keepdims=True)
    np.exp(P, out=P)
    # Row sums as a product with a ones vector: one BLAS call, cheaper than sum(axis=1).
    P /= (P @ work["ones_K"])[:, None]
    return H, P


def sequence_loss(P, y, loss="sum"):
    """Cross-entropy -sum_t log P[t, y_t] of (n, K) probabilities against (n,) targets (/ n: "mean")."""
    total = -np.add.reduce(np.log(P[np.arange(len(y)), y]))
    return total / len(y) if loss == "mean" else total


def loss(params, x, y, h0, work=None, loss="sum"):
    """Forward pass only: (loss, h_last) for inputs x (n,), targets y (n,), h0 (m,)."""
    H, P = forward(params, x, h0, work)
    return sequence_loss(P, y, loss), H[-1].copy()


def backward(params, x, y, H, P, grads=None, work=None, loss="sum"):
    """Exact gradients of the sequence loss by backpropagation through time.

    Args:
        params: dict as in ``forward``.  x, y: (n,) int arrays.
        H: (n + 1, m) and P: (n, K) from ``forward`` (left unchanged).
        grads: optional dict of preallocated arrays with the parameters' shapes
            to write into (the training loop passes views of one flat buffer).
        work: a ``workspace`` for the intermediate arrays (None: fresh ones).
        loss: "sum" or "mean" (the mean's gradients are the sum's divided by n).
    Returns:
        dict of gradients with the same keys and shapes as params.
    """
    if grads is None:
        grads = {k: np.empty_like(v) for k, v in params.items()}
    W, V = params["W"], params["V"]
    n = len(x)
    m, K = params["U"].shape
    dtype = np.result_type(H, P)
    if not _fits(work, n, m, K, dtype, backward=True):   # (H and P may be views of work: only
        work = workspace(n, m, K, dtype, aligned=False)   # its other arrays are written here)
    t_index, ones = work["t"][:n], work["ones_n"][:n]
    dO = work["dO"][:n]                                   # (n, K): p_t - onehot(y_t)
    dO[...] = P
    dO[t_index, y] -= 1.0
    if loss == "mean":
        dO /= n
    dO.T.dot(H[1:], out=grads["V"])
    ones.dot(dO, out=grads["c"])                          # column sums as products, as in forward
    dH, dtanh, dA = work["dH"][:n], work["dtanh"][:n], work["dA"][:n]
    dO.dot(V, out=dH)                                     # (n, m): from the outputs
    np.square(H[1:], out=dtanh)
    np.subtract(1.0, dtanh, out=dtanh)                    # (n, m): tanh' = 1 - h_t^2
    back = work["back"]
    WT_dot, add, multiply = W.T.dot, np.add, np.multiply
    da_rows, dh_rows, dtanh_rows = work["dA_rows"], work["dH_rows"], work["dtanh_rows"]
    multiply(dh_rows[n - 1], dtanh_rows[n - 1], out=da_rows[n - 1])
    for t in range(n - 2, -1, -1):                        # (outputs last, as in forward)
        WT_dot(da_rows[t + 1], back)                       # W^T da_{t+1}
        add(back, dh_rows[t], back)
        multiply(back, dtanh_rows[t], da_rows[t])
    dA.T.dot(H[:-1], out=grads["W"])
    ones.dot(dA, out=grads["b"])
    # dU[:, x_t] += da_t for every t, repeated characters summed: a product with the
    # (n, K) one-hot matrix of x, cheaper here than np.add.at or a bincount.
    onehot = work["onehot"][:n]
    onehot[t_index, x] = 1.0
    dA.T.dot(onehot, out=grads["U"])
    onehot[t_index, x] = 0.0                              # all zeros again for the next call
    return grads


def loss_and_grads(params, x, y, h0, grads=None, work=None, loss="sum"):
    """Loss, exact (unclipped) gradients and the last hidden state of one sequence.

    Args:
        params: dict of b (m,), c (K,), U (m, K), W (m, m), V (K, m).
        x: (n,) int input indices.  y: (n,) int target indices (x shifted by one).
        h0: (m,) hidden state before x[0].
        grads: optional dict of preallocated output arrays (see ``backward``).
        work: optional ``workspace`` (see ``forward``); the training loop passes one.
        loss: "sum" or "mean" over the sequence.
    Returns:
        (loss, grads, h_last): a float, a dict shaped like params, an (m,) array.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if work is None:                                      # one set of arrays for both passes
        work = workspace(len(x), *params["U"].shape, _dtype(params, h0), aligned=False)
    H, P = forward(params, x, h0, work)
    grads = backward(params, x, y, H, P, grads, work, loss)
    return float(sequence_loss(P, y, loss)), grads, H[-1].copy()


def batch_workspace(n, B, m, K, dtype=float):
    """Arrays for ``loss_and_grads_batch`` on B sequences of n characters (lib.rnn.forward_batch's shapes):
    H (n + 1, B, m), A_in, dH, dtanh, dA (n, B, m), P, dO and onehot (n B, K), a and back (B, m), all of dtype;
    each time step's (B, m) block is contiguous, and ``<name>_rows`` are lists of those blocks."""
    z = aligned_zeros
    work = {"H": z((n + 1, B, m), dtype), "A_in": z((n, B, m), dtype), "P": z((n * B, K), dtype),
            "dO": z((n * B, K), dtype), "dH": z((n, B, m), dtype), "dtanh": z((n, B, m), dtype),
            "dA": z((n, B, m), dtype), "a": z((B, m), dtype), "back": z((B, m), dtype),
            "onehot": z((n * B, K), dtype),
            "ones_rows": np.ones(n * B, dtype), "ones_K": np.ones(K, dtype), "rows": np.arange(n * B), "n": n, "B": B,
            "dtype": np.dtype(dtype)}
    for name in ("H", "A_in", "dH", "dtanh", "dA"):
        work[name + "_rows"] = list(work[name])
    return work


def loss_and_grads_batch(params, X, Y, H0, grads=None, work=None, loss="sum"):
    """lib.rnn.loss_and_grads_batch computed fast: the batch's mean loss, the mean of its sequences'
    gradients (the same numbers, bit for bit) and the (B, m) last hidden states.

    Args:
        params: dict of b (m,), c (K,), U (m, K), W (m, m), V (K, m) (float64, or float32 throughout).
        X, Y: (B, n) int inputs and targets.  H0: (B, m) hidden states before them.
        grads: optional dict of arrays shaped like params to write into.
        work: a ``batch_workspace`` for exactly these B and n (None: a fresh one).
        loss: "sum" or "mean", each sequence's loss (the batch's is their mean).
    """
    X, Y = np.asarray(X), np.asarray(Y)
    B, n = X.shape
    W, U, V = params["W"], params["U"], params["V"]
    m, K = U.shape
    if work is None or work["n"] != n or work["B"] != B or work["dtype"] != U.dtype:
        work = batch_workspace(n, B, m, K, U.dtype)
    if grads is None:
        grads = {k: np.empty_like(v) for k, v in params.items()}
    x_flat, y_flat = X.T.reshape(n * B), Y.T.reshape(n * B)    # time-major: row t B + i is (t, sequence i)
    H, A_in, P, a = work["H"], work["A_in"], work["P"], work["a"]
    np.add(U.T[X.T], params["b"], out=A_in)               # [t][i]: U x_t + b of sequence i
    H[0] = H0
    WT, dot, add, tanh = W.T, np.dot, np.add, np.tanh
    h_rows, a_rows = work["H_rows"], work["A_in_rows"]
    for t in range(n):                                    # H_t = tanh(H_{t-1} W^T + U X_t + b)
        dot(h_rows[t], WT, a)
        add(a, a_rows[t], a)
        tanh(a, h_rows[t + 1])
    states, before = H[1:].reshape(n * B, m), H[:-1].reshape(n * B, m)
    states.dot(V.T, out=P)
    P += params["c"]
    P -= P.max(axis=1, keepdims=True)
    np.exp(P, out=P)
    P /= (P @ work["ones_K"])[:, None]
    rows = work["rows"]
    scale = B * n if loss == "mean" else B
    loss_value = -np.add.reduce(np.log(P[rows, y_flat])) / scale
    dO = work["dO"]                                       # (P - onehot(Y)) / B (/ n)
    dO[...] = P
    dO[rows, y_flat] -= 1.0
    dO /= scale
    dO.T.dot(states, out=grads["V"])
    work["ones_rows"].dot(dO, out=grads["c"])
    dH, dtanh, dA = work["dH"], work["dtanh"], work["dA"]
    dO.dot(V, out=dH.reshape(n * B, m))
    np.square(H[1:], out=dtanh)
    np.subtract(1.0, dtanh, out=dtanh)
    back, multiply = work["back"], np.multiply
    da_rows, dh_rows, dtanh_rows = work["dA_rows"], work["dH_rows"], work["dtanh_rows"]
    multiply(dh_rows[n - 1], dtanh_rows[n - 1], da_rows[n - 1])
    for t in range(n - 2, -1, -1):                        # dA_t = (dO_t V + dA_{t+1} W) * (1 - H_t^2)
        dot(da_rows[t + 1], W, back)
        add(back, dh_rows[t], back)
        multiply(back, dtanh_rows[t], da_rows[t])
    flat_dA = dA.reshape(n * B, m)
    flat_dA.T.dot(before, out=grads["W"])
    work["ones_rows"].dot(flat_dA, out=grads["b"])
    # dU = dA^T X with X the (n B, K) one-hot matrix of the inputs, as for one sequence: about as quick
    # here as summing the rows of each input, and the product lib/rnn.py writes (the same numbers).
    onehot = work["onehot"]
    onehot[rows, x_flat] = 1.0
    flat_dA.T.dot(onehot, out=grads["U"])
    onehot[rows, x_flat] = 0.0
    return float(loss_value), grads, H[n].copy()


# Characters drawn per block by synthesize_blocks: large enough that the per-block
# work vanishes, small enough that a block's text is a few hundred kilobytes.
SYNTH_BLOCK = 65_536


def synthesize_blocks(params, h0, x0, n, rng, temperature=1.0, prime=None, argmax=False,
                      block=SYNTH_BLOCK, top_p=1.0):
    """Sample n characters like ``synthesize``, yielding them in blocks of at most ``block``.

    The uniform numbers are drawn from rng ``block`` at a time (the last block only as
    many as it needs), which is the same sequence as one draw per character: the
    concatenated blocks equal ``synthesize``'s array for every block size, and rng ends
    in the same state. Memory stays flat however large n is.

    Args:
        as ``synthesize``; argmax: always take the most likely character
            (rng is then not used at all); top_p < 1: nucleus sampling, each draw through
            lib.rnn.nucleus_sample (the same numbers as lib.rnn.draw).
    Yields:
        (k,) int64 arrays of sampled indices, k <= block, n indices in all.
    """
    _check_sampling_args(n, temperature, top_p)
    if isinstance(block, bool) or int(block) != block or block < 1:
        raise ValueError(f"block must be a positive integer, got {block!r}")
    b, c, U = (np.asarray(params[k], dtype=float) for k in ("b", "c", "U"))
    W, V = (_aligned_copy(params[k]) for k in ("W", "V"))  # (a model file's arrays may not be)
    m, K = U.shape
    h = np.array(h0, dtype=float)
    x = int(x0)
    if prime is not None and len(prime) > 0:
        prime = np.asarray(prime)
        for t in prime[:-1]:
            h = np.tanh(W @ h + U[:, t] + b)
        x = int(prime[-1])
    h = _aligned_copy(h)
    # The same arithmetic as the one-character-at-a-time formulation, written with out=
    # so that each step allocates nothing: a = (W h + U[:, x]) + b, h = tanh(a),
    # o = (V h + c) / T, p = exp(o - max o), then the index whose cumulative sum passes
    # u * sum p (see softmax_sample).
    U_cols = list(np.ascontiguousarray(U.T))               # U[:, x] as a contiguous row
    a, o, cum = aligned_zeros(m), aligned_zeros(K), np.empty(K)
    W_dot, V_dot, add, tanh, exp, subtract, divide = W.dot, V.dot, np.add, np.tanh, np.exp, np.subtract, np.divide
    cumsum, searchsorted, argmax_ = np.cumsum, np.searchsorted, np.argmax
    temperature = float(temperature)
    scale = temperature != 1.0
    nucleus = top_p != 1
    last = K - 1
    remaining = int(n)
    while remaining > 0:
        size = min(int(block), remaining)
        out = np.empty(size, dtype=np.int64)
        uniforms = None if argmax else rng.random(size).tolist()
        for t in range(size):
            W_dot(h, out=a)
            add(a, U_cols[x], out=a)
            add(a, b, out=a)
            tanh(a, out=h)
            V_dot(h, out=o)
            add(o, c, out=o)
            if argmax:
                x = int(argmax_(o))
            else:
                if scale:                                  # dividing by 1.0 changes nothing
                    divide(o, temperature, out=o)
                subtract(o, o.max(), out=o)
                exp(o, out=o)
                if nucleus:
                    x = nucleus_sample(o, uniforms[t], top_p)
                else:
                    cumsum(o, out=cum)
                    x = int(searchsorted(cum, uniforms[t] * cum[last], side="right"))
                    if x > last:
                        x = last
            out[t] = x
        remaining -= size
        yield out



def clip_in_place(grad, clip, work):
    """Clip grad to [-clip, clip] in place (clip None: leave it); work holds grad^2 afterwards."""
    np.square(grad, out=work)                  # the same numbers as grad * grad, in half the time
    # Gradients rarely pass the bound, and the largest square tells: |g| > clip gives
    # fl(g^2) >= fl(clip^2), rounding being monotone. One reduction costs less than clipping.
    if clip is not None and work.max() >= clip * clip:
        np.clip(grad, -clip, clip, out=grad)
        np.square(grad, out=work)


def adagrad_step(theta, grad, M, eta, work=None, clip=GRAD_CLIP, eps=ADAGRAD_EPS):
    """One AdaGrad update in place on flat arrays of equal shape (lib.rnn.adagrad_step).

    grad is clipped elementwise to [-clip, clip] in place (clip None: not clipped), then
    M += grad^2 and theta -= eta * grad / sqrt(M + eps).
    ``work`` is an optional scratch array shaped like theta.
    """
    if work is None:
        work = np.empty_like(theta)
    clip_in_place(grad, clip, work)
    M += work
    np.add(M, eps, out=work)
    np.sqrt(work, out=work)
    np.divide(grad, work, out=work)
    work *= eta
    theta -= work


def adam_step(theta, grad, first, second, t, eta, beta1=0.9, beta2=0.999, eps=1e-8, clip=None, work=None):
    """One Adam update in place on flat arrays of equal shape (lib.rnn.adam_step, bit for bit).

    grad is clipped in place when clip is given; ``work`` is an optional (2, size) scratch array.
    Each line computes what the same term of lib.rnn's equations does, in the same order.
    """
    if work is None:
        work = np.empty((2,) + theta.shape)
    g2, step = work[0], work[1]
    clip_in_place(grad, clip, g2)                  # g2 = g * g
    first *= beta1                                 # m = beta1 m + (1 - beta1) g
    np.multiply(grad, 1 - beta1, out=step)
    first += step
    second *= beta2                                # v = beta2 v + (1 - beta2) (g * g)
    g2 *= 1 - beta2
    second += g2
    np.multiply(first, eta / (1 - beta1 ** t), out=step)   # eta * m_hat, the scalars first
    np.divide(second, 1 - beta2 ** t, out=g2)      # v_hat
    np.sqrt(g2, out=g2)
    g2 += eps
    step /= g2                                     # eta * m_hat / (sqrt(v_hat) + eps)
    theta -= step


def flat_layout(shapes):
    """Where each (name, shape) lies in a flat buffer: ({name: first index}, buffer length).

    In order, each starting on a 64-byte boundary (the zeros between them are padding):
    BLAS loads aligned rows faster, W h takes ~1.55 us against ~1.9 at an 8-byte offset here.
    """
    per_line = ALIGN_BYTES // 8
    starts, at = {}, 0
    for name, shape in shapes.items():
        starts[name] = at
        at += -(-int(np.prod(shape)) // per_line) * per_line
    return starts, at


def flat_buffer(shapes, dtype=float):
    """A flat buffer of zeros (float64 unless dtype says) for ``flat_views``, itself on a 64-byte boundary."""
    return aligned_zeros(flat_layout(shapes)[1], dtype)


def flat_views(flat, shapes):
    """Dict of views into the 1-D array flat (made by flat_buffer), one per (name, shape)."""
    starts, size = flat_layout(shapes)
    if flat.shape != (size,):
        raise ValueError(f"a flat buffer for these shapes has {size} elements, got shape {flat.shape}")
    return {name: flat[starts[name]:starts[name] + int(np.prod(shape))].reshape(shape)
            for name, shape in shapes.items()}


class FlatModel:
    """The training loop's model on the fast path: parameters, gradients and the best model in flat buffers.

    ``params``, ``grads`` and ``best`` are dicts of views into their buffers; ``zeros()`` makes
    more such dicts (an optimizer's state) and ``flat(views)`` gives back the buffer behind one,
    for the optimizers' flat updates. Only this class's methods and the optimizer write them,
    so that the loop's calls show every change it makes. The plain twin is
    lib.training.parts.PlainModel, on lib.rnn's dicts.
    """

    fast = True

    def __init__(self, params, best, seq_length, loss="sum", batch_size=1):
        m, K = params["U"].shape
        self.loss, self.batch_size = loss, batch_size
        self._shapes = {name: params[name].shape for name in PARAM_NAMES}
        self._dtype = np.asarray(params["U"]).dtype
        self._buffers = {}
        self.params, self.best, self.grads = self.zeros(), self.zeros(), self.zeros()   # padding's gradient stays 0
        for views, given in ((self.params, params), (self.best, best)):
            for name in PARAM_NAMES:
                views[name][...] = given[name]
        # Every chunk is at most seq_length long; a batch's sequences are all exactly that long.
        self._work = workspace(seq_length, m, K, self._dtype) if batch_size == 1 else \
            batch_workspace(seq_length, batch_size, m, K, self._dtype)

    def zeros(self):
        """A dict of zero arrays shaped like the parameters: views into one new flat buffer."""
        flat = flat_buffer(self._shapes, self._dtype)
        views = flat_views(flat, self._shapes)
        self._buffers[id(views)] = flat
        return views

    def flat(self, views):
        """The flat buffer behind a dict that ``zeros`` made."""
        return self._buffers[id(views)]

    def loss_and_grads(self, x, y, state, update=None):
        """(loss, (h_last,)) of one chunk, x and y (n,) and state (h0,), h0 (m,); with batch_size B > 1, of
        B chunks, x and y (B, n) and h0 (B, m) (the batch's mean loss, and h_last (B, m)). The gradients
        land in ``self.grads`` (lib.training.parts: the model interface; update is unused here)."""
        if self.batch_size == 1:
            loss_value, _, h_last = loss_and_grads(self.params, x, y, state[0], self.grads, self._work, self.loss)
        else:
            loss_value, _, h_last = loss_and_grads_batch(self.params, x, y, state[0], self.grads, self._work,
                                                         self.loss)
        return loss_value, (h_last,)

    def keep_best(self):
        """Copy the current parameters into ``self.best``."""
        self.flat(self.best)[:] = self.flat(self.params)
