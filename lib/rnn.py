"""The model math of a character-level vanilla RNN (float64, numpy only).

Shapes, with K the vocabulary size, m the hidden size and n the sequence length:

    b (m,)    c (K,)    U (m, K)    W (m, m)    V (K, m)
    H (n + 1, m): H[0] = h_0, the state before x_1, and H[t] = h_t
    P (n, K): row t - 1 is p_t

Initialisation: b = 0, c = 0, and either (init="normal", the 2021 handout)
U, W, V ~ N(0, sigma^2), or (init="scaled", the 2026 handout)
U ~ N(0, 1/(2K)), W ~ N(0, 1/(2m)), V ~ N(0, 1/m).

Forward, for t = 1 .. n:

    a_t = W h_{t-1} + U x_t + b      h_t = tanh(a_t)
    o_t = V h_t + c                  p_t = softmax(o_t)
    loss = -sum_t log p_t[y_t]                  (loss="sum", the 2021 handout)
    loss = -(1/n) sum_t log p_t[y_t]            (loss="mean", the 2026 handout)

Backward through time, from t = n down to 1, with da_{n+1} = 0:

    do_t = p_t - onehot(y_t)                    (divided by n for loss="mean")
    dh_t = V^T do_t + W^T da_{t+1}   da_t = (1 - h_t^2) * dh_t
    dV = sum_t do_t h_t^T    dc = sum_t do_t
    dW = sum_t da_t h_{t-1}^T    dU = sum_t da_t x_t^T    db = sum_t da_t

Every gradient is linear in do, so the mean's gradients are the sum's divided by n.
Each optimizer updates every parameter theta with its gradient g, first clipped
elementwise to [-clip, clip] when a clip is given:

    AdaGrad (2021):  M = M + g^2      theta = theta - eta * g / sqrt(M + eps)
    Adam (2026), at update t = 1, 2, ...:
        m = beta1 m + (1 - beta1) g          v = beta2 v + (1 - beta2) g^2
        m_hat = m / (1 - beta1^t)            v_hat = v / (1 - beta2^t)
        theta = theta - eta * m_hat / (sqrt(v_hat) + eps)

Mini-batches (``loss_and_grads_batch``): B sequences of n characters at once, each with its own
hidden state. The states are the rows of a (B, m) matrix, so each equation above becomes a
matrix-matrix product over the batch:

    X, Y (B, n): row i is sequence i's inputs and targets      H0 (B, m): row i is its h_0
    H (n + 1, B, m): H[t] is h_t of every sequence     P (n, B, K): P[t - 1] is p_t of every one
    A_t = H_{t-1} W^T + U X_t + b    H_t = tanh(A_t)    O_t = H_t V^T + c    (A_t, H_t (B, m); O_t (B, K))
    loss = (1/B) sum_i loss_i                     (the batch's mean of each sequence's loss)
    dO_t = (P_t - onehot(Y_t)) / B                (and / n for loss="mean")
    dH_t = dO_t V + dA_{t+1} W       dA_t = (1 - H_t^2) * dH_t
    dV = sum_t dO_t^T H_t   dW = sum_t dA_t^T H_{t-1}   db, dc: sums over t and the batch

so every gradient is the mean over the batch of each sequence's own gradient.

Sampling, one step at a time (``step``, then ``draw``): h = tanh(W h + U x + b),
p = softmax((V h + c) / temperature), x ~ p. Nucleus sampling (Holtzman et al., 2020) with
top_p = theta in (0, 1], applied after the temperature: sort the characters by p, likeliest
first, take the smallest k whose probabilities sum to at least theta, set the others' to zero
and renormalise. Characters of equal probability are taken in index order (the vocabulary's),
so a tie at the boundary keeps the lower index. theta = 1 is plain sampling; a theta at most
the largest probability keeps one character, the argmax.

Inputs ``x`` and targets ``y`` are int arrays of character indices. ``x_t`` is
one-hot in the math, but the forward pass builds no one-hot matrix: ``U x_t`` is the
column ``U[:, x_t]`` (the backward pass builds one, for dU = sum_t da_t x_t^T as one product). Each equation is one place below; the steps that involve no
recurrence (U x_t + b, the outputs, the softmax, the sums over t) are written for all t
at once as matrix products. lib/rnn_fast.py computes the same numbers faster for the
training loop, bit for bit (see its docstring); train.ipynb's fast=False trains on this file itself.
"""

import numpy as np

CELL = "rnn"   # this module's name among the networks (lib/network.py: the interface it shares)
PARAM_NAMES = ("b", "c", "U", "W", "V")
GRAD_CLIP = 5.0
ADAGRAD_EPS = 1e-8
INITS = ("normal", "scaled")
LOSSES = ("sum", "mean")


def param_shapes(K, m, layers=1):
    """Shape of each parameter for vocabulary size K and hidden size m (one layer: the course's cell)."""
    if layers != 1:
        raise ValueError(f"the vanilla cell has one layer, got layers={layers!r}")
    return {"b": (m,), "c": (K,), "U": (m, K), "W": (m, m), "V": (K, m)}


def init_state(params, batch_size=1):
    """The zero state before a text, as a tuple: (h_0,), h_0 (m,) for one sequence, (B, m) for a batch."""
    m = params["W"].shape[0]
    return (np.zeros(m if batch_size == 1 else (batch_size, m)),)


def init_params(K, m, sigma=0.01, rng=None, init="normal"):
    """Zero biases and random weights, as the handout says.

    Args:
        K: vocabulary size.  m: hidden size.
        sigma: standard deviation of U, W, V for init="normal" (unused by "scaled").
        rng: a ``numpy.random.Generator`` (a fresh unseeded one when None).
        init: "normal", U, W, V ~ N(0, sigma^2); or "scaled", standard deviations
            1/sqrt(2K) for U, 1/sqrt(2m) for W, 1/sqrt(m) for V.
    Returns:
        dict of float64 arrays b (m,), c (K,), U (m, K), W (m, m), V (K, m).
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(map(repr, INITS))}, got {init!r}")
    rng = np.random.default_rng() if rng is None else rng
    std = {"U": sigma, "W": sigma, "V": sigma} if init == "normal" else \
        {"U": 1 / np.sqrt(2 * K), "W": 1 / np.sqrt(2 * m), "V": 1 / np.sqrt(m)}
    return {
        "b": np.zeros(m),
        "c": np.zeros(K),
        "U": std["U"] * rng.standard_normal((m, K)),   # drawn in this order, U, W, V, for every init
        "W": std["W"] * rng.standard_normal((m, m)),
        "V": std["V"] * rng.standard_normal((K, m)),
    }


def softmax_rows(O):
    """Row-wise softmax of (n, K) logits O: each row exp(o - max o) / sum exp(o - max o).

    Shifting by the real part of the row maximum keeps exp() in range and leaves the
    imaginary part of a complex step (lib.gradcheck) untouched.
    """
    E = np.exp(O - O.real.max(axis=1, keepdims=True))
    return E / (E @ np.ones(E.shape[1], E.real.dtype))[:, None]   # row sums as a product with ones (see backward)


def forward(params, x, h0):
    """Run the recurrence over a sequence: the hidden states and the probabilities.

    Works in any floating or complex dtype that the parameters carry (the
    complex-step gradient check runs it in complex128).

    Args:
        params: dict of b (m,), c (K,), U (m, K), W (m, m), V (K, m).
        x: (n,) int input indices.  h0: (m,) hidden state before x[0].
    Returns:
        H: (n + 1, m) hidden states, H[0] = h0 and H[t + 1] = h_t.
        P: (n, K) softmax probabilities p_t.
    """
    b, c, U, W, V = (params[k] for k in PARAM_NAMES)
    dtype = np.result_type(h0, b, c, U, W, V)
    H = np.empty((len(x) + 1, W.shape[0]), dtype=dtype)
    H[0] = h0
    UX_b = U.T[x] + b                                     # (n, m): row t is U x_t + b
    for t in range(len(x)):                               # the recurrence: only this is sequential
        H[t + 1] = np.tanh(W @ H[t] + UX_b[t])            # h_t = tanh(W h_{t-1} + U x_t + b)
    O = H[1:] @ V.T + c                                   # (n, K): row t is o_t = V h_t + c
    return H, softmax_rows(O)


def sequence_loss(P, y, loss="sum"):
    """Cross-entropy of (n, K) probabilities against (n,) targets: -sum_t log P[t, y_t],
    divided by n for loss="mean"."""
    total = -np.log(P[np.arange(len(y)), y]).sum()
    return total / len(y) if loss == "mean" else total


def loss(params, x, y, h0, loss="sum"):
    """Forward pass only: (loss, h_last) for inputs x (n,), targets y (n,), h0 (m,)."""
    H, P = forward(params, x, h0)
    return sequence_loss(P, y, loss), H[-1].copy()


def backward(params, x, y, H, P, loss="sum"):
    """Exact gradients of the sequence loss by backpropagation through time.

    Args:
        params: dict as in ``forward``.  x, y: (n,) int arrays.
        H: (n + 1, m) and P: (n, K) from ``forward`` (left unchanged).
        loss: "sum" or "mean", the loss whose gradients these are.
    Returns:
        dict of gradients with the same keys and shapes as params.
    """
    W, V = params["W"], params["V"]
    n = len(x)
    dO = P.copy()                                         # (n, K): row t is do_t = p_t - onehot(y_t)
    dO[np.arange(n), y] -= 1.0
    if loss == "mean":
        dO /= n                                           # d(loss / n) = d(loss) / n
    dH_out = dO @ V                                       # (n, m): row t is V^T do_t
    dA = np.empty_like(dH_out)                            # (n, m): row t is da_t
    da_next = np.zeros(W.shape[0], dtype=dA.dtype)        # W^T da_{n+1} = 0: nothing after the last step
    for t in range(n - 1, -1, -1):
        dh = dH_out[t] + W.T @ da_next                    # dh_t = V^T do_t + W^T da_{t+1}
        dA[t] = (1.0 - H[t + 1] ** 2) * dh                # da_t = (1 - h_t^2) * dh_t
        da_next = dA[t]
    onehot = np.zeros((n, P.shape[1]), dA.real.dtype)     # (n, K): row t is x_t, one-hot
    onehot[np.arange(n), x] = 1.0
    ones = np.ones(n, dA.real.dtype)
    # Sums over t as products with ones, and dU = sum_t da_t x_t^T as dA^T X, X the one-hot rows: the
    # products the fast path computes, so that the two give the same numbers bit for bit.
    return {"b": ones @ dA, "c": ones @ dO, "U": dA.T @ onehot,
            "W": dA.T @ H[:-1], "V": dO.T @ H[1:]}


def loss_and_grads(params, x, y, h0, loss="sum"):
    """Loss, exact (unclipped) gradients and the last hidden state of one sequence.

    Args:
        params: dict of b (m,), c (K,), U (m, K), W (m, m), V (K, m).
        x: (n,) int input indices.  y: (n,) int target indices (x shifted by one).
        h0: (m,) hidden state before x[0].
        loss: "sum" (2021) or "mean" (2026) over the sequence's characters.
    Returns:
        (loss, grads, h_last): a float, a dict shaped like params, an (m,) array.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}, got {loss!r}")
    x, y = np.asarray(x), np.asarray(y)
    H, P = forward(params, x, h0)
    return float(sequence_loss(P, y, loss)), backward(params, x, y, H, P, loss), H[-1].copy()


def forward_batch(params, X, H0):
    """The recurrence over B sequences at once, their states the rows of (B, m) matrices.

    Args:
        params: dict of b (m,), c (K,), U (m, K), W (m, m), V (K, m).
        X: (B, n) int input indices, row i sequence i.  H0: (B, m), row i its state before X[i, 0].
    Returns:
        H: (n + 1, B, m) hidden states, H[0] = H0 and H[t + 1][i] = h_t of sequence i.
        P: (n, B, K) softmax probabilities, P[t][i] = p_t of sequence i.
    """
    b, c, U, W, V = (params[k] for k in PARAM_NAMES)
    X = np.asarray(X)
    B, n = X.shape
    m = W.shape[0]
    H = np.empty((n + 1, B, m), dtype=np.result_type(H0, b, c, U, W, V))
    H[0] = H0
    UX_b = U.T[X.T] + b                                   # (n, B, m): [t][i] is U x_t + b of sequence i
    for t in range(n):
        H[t + 1] = np.tanh(H[t] @ W.T + UX_b[t])          # H_t = tanh(H_{t-1} W^T + U X_t + b)
    O = H[1:].reshape(n * B, m) @ V.T + c                 # (n B, K): row t B + i is o_t of sequence i
    return H, softmax_rows(O).reshape(n, B, -1)


def backward_batch(params, X, Y, H, P, loss="sum"):
    """The gradients of the batch's mean sequence loss: the mean of each sequence's gradients.

    Args:
        X, Y: (B, n) int arrays.  H: (n + 1, B, m) and P: (n, B, K) from ``forward_batch``.
        loss: "sum" or "mean", the unit of each sequence's loss.
    Returns:
        dict of gradients with the same keys and shapes as params.
    """
    W, V = params["W"], params["V"]
    X, Y = np.asarray(X), np.asarray(Y)
    B, n = X.shape
    m, K = params["U"].shape
    dO = P.reshape(n * B, K).copy()                       # (n B, K): row t B + i is dO_t of sequence i
    dO[np.arange(n * B), Y.T.reshape(-1)] -= 1.0
    dO /= B * n if loss == "mean" else B                  # dO_t = (P_t - onehot(Y_t)) / B (and / n)
    dH_out = (dO @ V).reshape(n, B, m)                    # (n, B, m): [t] is dO_t V
    dA = np.empty_like(dH_out)                            # (n, B, m): [t] is dA_t
    da_next = np.zeros((B, m), dtype=dA.dtype)            # dA_{n+1} = 0
    for t in range(n - 1, -1, -1):
        dh = dH_out[t] + da_next @ W                      # dH_t = dO_t V + dA_{t+1} W
        dA[t] = (1.0 - H[t + 1] ** 2) * dh                # dA_t = (1 - H_t^2) * dH_t
        da_next = dA[t]
    flat_dA = dA.reshape(n * B, m)
    onehot = np.zeros((n * B, K), dA.real.dtype)          # (n B, K): row t B + i is x_t of sequence i, one-hot
    onehot[np.arange(n * B), X.T.reshape(-1)] = 1.0
    ones = np.ones(n * B, dA.real.dtype)                  # sums over t and the batch as products (see backward)
    return {"b": ones @ flat_dA, "c": ones @ dO, "U": flat_dA.T @ onehot,
            "W": flat_dA.T @ H[:-1].reshape(n * B, m), "V": dO.T @ H[1:].reshape(n * B, m)}


def loss_and_grads_batch(params, X, Y, H0, loss="sum"):
    """The batch's mean loss, its exact (unclipped) gradients and each sequence's last hidden state.

    Args:
        X, Y: (B, n) int inputs and targets, row i sequence i.  H0: (B, m) states before them.
        loss: "sum" or "mean", each sequence's loss (the batch's is their mean).
    Returns:
        (loss, grads, H_last): a float, a dict shaped like params, a (B, m) array.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}, got {loss!r}")
    X, Y = np.asarray(X), np.asarray(Y)
    B, n = X.shape
    H, P = forward_batch(params, X, H0)
    # The mean over the batch of each sequence's loss: the sum of every -log p, over B (and n).
    total = -np.log(P.reshape(n * B, -1)[np.arange(n * B), Y.T.reshape(-1)]).sum()
    return float(total / (B * n if loss == "mean" else B)), backward_batch(params, X, Y, H, P, loss), H[-1].copy()


def clipped(g, clip):
    """g with every entry clipped to [-clip, clip] (a new array); g itself when clip is None."""
    return g if clip is None else np.clip(g, -clip, clip)


def adagrad_step(params, grads, memory, eta, clip=GRAD_CLIP, eps=ADAGRAD_EPS):
    """One AdaGrad update of every parameter, in place: params and memory change, grads do not.

    g = clip(grad, -clip, clip) (clip=None: no clipping), M += g^2, theta -= eta * g / sqrt(M + eps).
    Every parameter params holds (any network's: lib/network.py).
    """
    for name in params:
        g = clipped(grads[name], clip)
        memory[name] += g * g
        params[name] -= eta * (g / np.sqrt(memory[name] + eps))


def adam_step(params, grads, first, second, t, eta, beta1=0.9, beta2=0.999, eps=1e-8, clip=None):
    """One Adam update of every parameter, in place: params and both moments change, grads do not.

    Args:
        first, second: dicts shaped like params, the moment estimates m and v (zeros before update 1).
        t: the number of this update, 1 for the first (the bias corrections' exponent).
        eta, beta1, beta2, eps: as in the equations of the module docstring.
        clip: clip each gradient to [-clip, clip] first (None: no clipping, the 2026 handout).
    Every parameter params holds (any network's: lib/network.py).
    """
    for name in params:
        g = clipped(grads[name], clip)
        m, v = first[name], second[name]
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * (g * g)
        v_hat = v / (1 - beta2 ** t)
        # eta * m_hat with m_hat = m / (1 - beta1^t): the scalars first, one pass over m fewer
        params[name] -= (eta / (1 - beta1 ** t)) * m / (np.sqrt(v_hat) + eps)


def softmax_sample(p, u):
    """Index drawn from probabilities p (K,) with one uniform number u in [0, 1)."""
    cumulative = np.cumsum(p)
    # Scaling u by the total absorbs rounding that leaves the sum slightly off 1.
    return int(min(np.searchsorted(cumulative, u * cumulative[-1], side="right"), len(p) - 1))


def _check_sampling_args(n, temperature, top_p=1.0):
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float, np.integer, np.floating)) \
            or not 0 < top_p <= 1:
        raise ValueError(f"top_p must be a number in (0, 1], got {top_p!r}")
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")


def step(params, h, x):
    """One step of the network from hidden state h (m,) with input index x, as sampling takes it:
    (h_next, o), h_next = tanh(W h + U x + b) and the logits o = V h_next + c (K,)."""
    h = np.tanh(params["W"] @ h + params["U"][:, x] + params["b"])
    return h, params["V"] @ h + params["c"]


def nucleus(p, top_p):
    """The nucleus of top_p: the indices, in increasing order, of the smallest number k of the
    likeliest characters whose probabilities p (K,) sum to at least top_p of their total
    (p need not be normalised). Equal probabilities are taken in index order, so a tie at the
    boundary keeps the lower index."""
    likeliest = np.argsort(-p, kind="stable")             # likeliest first; ties in index order
    cumulative = np.cumsum(p[likeliest])
    k = min(int(np.searchsorted(cumulative, top_p * cumulative[-1], side="left")) + 1, len(p))
    return np.sort(likeliest[:k])


def nucleus_sample(p, u, top_p):
    """Index drawn from probabilities p (K,) restricted to their ``nucleus`` and renormalised,
    with one uniform number u in [0, 1) (read off the kept characters in index order)."""
    kept = nucleus(p, top_p)
    return int(kept[softmax_sample(p[kept], u)])


def draw(o, u, temperature=1.0, argmax=False, top_p=1.0):
    """The character drawn from logits o (K,): x ~ softmax(o / temperature), read off with one
    uniform number u in [0, 1), from the nucleus of top_p when top_p < 1 (``nucleus``); with
    argmax, the likeliest character (u unused, may be None)."""
    if argmax:
        return int(np.argmax(o))
    o = o / temperature
    p = np.exp(o - o.max())
    return softmax_sample(p, u) if top_p == 1 else nucleus_sample(p, u, top_p)


def synthesize(params, h0, x0, n, rng, temperature=1.0, prime=None, argmax=False, top_p=1.0):
    """Sample n characters, feeding each drawn character back as the next input.

    Args:
        params: dict of model parameters.  h0: (m,) starting hidden state.
        x0: int index of the first input character.
        n: number of characters to draw.
        rng: ``numpy.random.Generator`` used for the draws (and nothing else).
        temperature: divides the logits; 1.0 is plain sampling, smaller is
            more conservative. Must be > 0.
        prime: optional (p,) int indices fed through the network first to warm
            the hidden state; the draw then starts after its last character,
            which takes the place of x0.
        argmax: always take the most likely character instead of drawing (rng unused).
        top_p: nucleus sampling's theta in (0, 1], after the temperature; 1.0 is plain sampling.
    Returns:
        (n,) int array of sampled indices.
    """
    _check_sampling_args(n, temperature, top_p)
    params = {k: np.asarray(params[k], dtype=float) for k in PARAM_NAMES}
    h = np.array(h0, dtype=float)
    x = int(x0)
    if prime is not None and len(prime) > 0:
        for t in prime[:-1]:
            h, _ = step(params, h, t)
        x = int(prime[-1])
    drawn = np.empty(int(n), dtype=np.int64)
    for t in range(int(n)):
        h, o = step(params, h, x)
        x = draw(o, None if argmax else rng.random(), temperature, argmax, top_p)
        drawn[t] = x
    return drawn
