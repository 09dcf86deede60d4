"""The model math of a character-level vanilla RNN (float64, numpy only).

Shapes, with K the vocabulary size, m the hidden size and n the sequence length:

    b (m,)    c (K,)    U (m, K)    W (m, m)    V (K, m)
    H (n + 1, m): H[0] = h_0, the state before x_1, and H[t] = h_t
    P (n, K): row t - 1 is p_t

Forward, for t = 1 .. n:

    a_t = W h_{t-1} + U x_t + b      h_t = tanh(a_t)
    o_t = V h_t + c                  p_t = softmax(o_t)
    loss = -sum_t log p_t[y_t]

Backward through time, from t = n down to 1, with da_{n+1} = 0:

    do_t = p_t - onehot(y_t)
    dh_t = V^T do_t + W^T da_{t+1}   da_t = (1 - h_t^2) * dh_t
    dV = sum_t do_t h_t^T    dc = sum_t do_t
    dW = sum_t da_t h_{t-1}^T    dU = sum_t da_t x_t^T    db = sum_t da_t

AdaGrad, for each parameter theta with gradient g clipped to [-5, 5]:

    M = M + g^2      theta = theta - eta * g / sqrt(M + eps)

Sampling: h = tanh(W h + U x + b), p = softmax((V h + c) / temperature), x ~ p.

Inputs ``x`` and targets ``y`` are int arrays of character indices. ``x_t`` is
one-hot in the math, but no one-hot matrix is ever built: ``U x_t`` is the
column ``U[:, x_t]``. Each equation is one place below; the steps that involve no
recurrence (U x_t + b, the outputs, the softmax, the sums over t) are written for all t
at once as matrix products. lib/rnn_fast.py computes the same numbers faster for the
training loop (see its docstring).
"""

import numpy as np

PARAM_NAMES = ("b", "c", "U", "W", "V")
GRAD_CLIP = 5.0
ADAGRAD_EPS = 1e-8


def param_shapes(K, m):
    """Shape of each parameter for vocabulary size K and hidden size m."""
    return {"b": (m,), "c": (K,), "U": (m, K), "W": (m, m), "V": (K, m)}


def init_params(K, m, sigma=0.01, rng=None):
    """The course's initialisation: zero biases, N(0, sigma^2) weights.

    Args:
        K: vocabulary size.  m: hidden size.  sigma: standard deviation of U, W, V.
        rng: a ``numpy.random.Generator`` (a fresh unseeded one when None).
    Returns:
        dict of float64 arrays b (m,), c (K,), U (m, K), W (m, m), V (K, m).
    """
    rng = np.random.default_rng() if rng is None else rng
    return {
        "b": np.zeros(m),
        "c": np.zeros(K),
        "U": sigma * rng.standard_normal((m, K)),
        "W": sigma * rng.standard_normal((m, m)),
        "V": sigma * rng.standard_normal((K, m)),
    }


def softmax_rows(O):
    """Row-wise softmax of (n, K) logits O: each row exp(o - max o) / sum exp(o - max o).

    Shifting by the real part of the row maximum keeps exp() in range and leaves the
    imaginary part of a complex step (lib.gradcheck) untouched.
    """
    E = np.exp(O - O.real.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


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


def sequence_loss(P, y):
    """Cross-entropy -sum_t log P[t, y_t] of (n, K) probabilities against (n,) targets."""
    return -np.log(P[np.arange(len(y)), y]).sum()


def loss(params, x, y, h0):
    """Forward pass only: (loss, h_last) for inputs x (n,), targets y (n,), h0 (m,)."""
    H, P = forward(params, x, h0)
    return sequence_loss(P, y), H[-1].copy()


def backward(params, x, y, H, P):
    """Exact gradients of the sequence loss by backpropagation through time.

    Args:
        params: dict as in ``forward``.  x, y: (n,) int arrays.
        H: (n + 1, m) and P: (n, K) from ``forward`` (left unchanged).
    Returns:
        dict of gradients with the same keys and shapes as params.
    """
    W, V = params["W"], params["V"]
    n = len(x)
    dO = P.copy()                                         # (n, K): row t is do_t = p_t - onehot(y_t)
    dO[np.arange(n), y] -= 1.0
    dH_out = dO @ V                                       # (n, m): row t is V^T do_t
    dA = np.empty_like(dH_out)                            # (n, m): row t is da_t
    da_next = np.zeros(W.shape[0], dtype=dA.dtype)        # W^T da_{n+1} = 0: nothing after the last step
    for t in range(n - 1, -1, -1):
        dh = dH_out[t] + W.T @ da_next                    # dh_t = V^T do_t + W^T da_{t+1}
        dA[t] = (1.0 - H[t + 1] ** 2) * dh                # da_t = (1 - h_t^2) * dh_t
        da_next = dA[t]
    dU = np.zeros_like(params["U"], dtype=dA.dtype)
    np.add.at(dU.T, x, dA)                                # dU[:, x_t] += da_t, repeats summed
    return {"b": dA.sum(axis=0), "c": dO.sum(axis=0), "U": dU,
            "W": dA.T @ H[:-1], "V": dO.T @ H[1:]}


def loss_and_grads(params, x, y, h0):
    """Loss, exact (unclipped) gradients and the last hidden state of one sequence.

    Args:
        params: dict of b (m,), c (K,), U (m, K), W (m, m), V (K, m).
        x: (n,) int input indices.  y: (n,) int target indices (x shifted by one).
        h0: (m,) hidden state before x[0].
    Returns:
        (loss, grads, h_last): a float, a dict shaped like params, an (m,) array.
    """
    x, y = np.asarray(x), np.asarray(y)
    H, P = forward(params, x, h0)
    return float(sequence_loss(P, y)), backward(params, x, y, H, P), H[-1].copy()


def adagrad_step(params, grads, memory, eta, clip=GRAD_CLIP, eps=ADAGRAD_EPS):
    """One AdaGrad update of every parameter, in place: params and memory change, grads do not.

    g = clip(grad, -clip, clip), M += g^2, theta -= eta * g / sqrt(M + eps).
    """
    for name in PARAM_NAMES:
        g = np.clip(grads[name], -clip, clip)
        memory[name] += g * g
        params[name] -= eta * (g / np.sqrt(memory[name] + eps))


def softmax_sample(p, u):
    """Index drawn from probabilities p (K,) with one uniform number u in [0, 1)."""
    cumulative = np.cumsum(p)
    # Scaling u by the total absorbs rounding that leaves the sum slightly off 1.
    return int(min(np.searchsorted(cumulative, u * cumulative[-1], side="right"), len(p) - 1))


def _check_sampling_args(n, temperature):
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")


def synthesize(params, h0, x0, n, rng, temperature=1.0, prime=None, argmax=False):
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
    Returns:
        (n,) int array of sampled indices.
    """
    _check_sampling_args(n, temperature)
    b, c, U, W, V = (np.asarray(params[k], dtype=float) for k in PARAM_NAMES)
    h = np.array(h0, dtype=float)
    x = int(x0)
    if prime is not None and len(prime) > 0:
        for t in prime[:-1]:
            h = np.tanh(W @ h + U[:, t] + b)
        x = int(prime[-1])
    drawn = np.empty(int(n), dtype=np.int64)
    for t in range(int(n)):
        h = np.tanh(W @ h + U[:, x] + b)                  # h = tanh(W h + U x + b)
        o = V @ h + c
        if argmax:
            x = int(np.argmax(o))
        else:
            o = o / temperature
            x = softmax_sample(np.exp(o - o.max()), rng.random())   # x ~ softmax(o / T)
        drawn[t] = x
    return drawn
