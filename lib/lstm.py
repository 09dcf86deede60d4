"""The model math of a character-level LSTM, one or more layers stacked (numpy only).

Shapes, with K the vocabulary size, m the hidden size, L the number of layers, B the number of
streams (sequences run side by side, each with its own state) and n the sequence length. Layer l
reads D_l values a step: D_1 = K (the one-hot character), D_l = m above it (the layer below's h_t).

    W_l (D_l + m, 4m): rows [:D_l] act on the layer's input x_t, rows [D_l:] on its h_{t-1};
                       its columns are four blocks of m, the gates i, f, g, o (PyTorch's order)
    b_l (4m,)          V (K, m)          c (K,)   (the output layer, as lib/rnn.py's)
    state: (h_1, c_1, ..., h_L, c_L), each (B, m): layer l's hidden and cell state
    X, Y (B, n) int: row j holds stream j's inputs and targets

The cell state c_t (with a time index) is not the output bias c (rnn.py's name, kept). States are
rows, so each layer computes, for t = 1 .. n, with sigma(a) = 1 / (1 + exp(-a)) elementwise:

    z_t = x_t W[:D] + h_{t-1} W[D:] + b           (B, 4m): the blocks z^i, z^f, z^g, z^o
    i_t = sigma(z^i)   f_t = sigma(z^f)   g_t = tanh(z^g)   o_t = sigma(z^o)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

x_t of layer 1 is the one-hot row of character X[:, t], so x_t W[:K] is the row W[X[:, t]] (no
one-hot matrix is built for the forward pass); x_t of layer l > 1 is d^{l-1}_t * h^{l-1}_t, and
the output layer reads the top layer's:

    s_t = (d^L_t * h^L_t) V^T + c                 (B, K): the logits (rnn.py's o_t; o_t here is a gate)
    p_t = softmax(s_t)      loss = (1/B) sum_j sum_t -log p_t[j, y_t]   ("sum"; "mean" divides by n)

d^l_t is dropout's mask (Zaremba et al. 2014, as char-rnn): 1 everywhere for dropout p = 0, else
(u >= p) / (1 - p) with u uniform on [0, 1), drawn by rng.random as one (n, B, m) block per layer
(t, then stream, then unit), layer 1 first; p = 0 draws nothing. It acts only where a layer's
output goes up, never on the recurrent h_{t-1} or c_{t-1}.

Backward, from t = n down to 1, with dz_{n+1} = 0 and dc_{n+1} f_{n+1} = 0:

    ds_t = (p_t - onehot(y_t)) / B                (and / n for loss="mean")
    dh_t = d_t * (ds_t V  or, below the top, dz^{l+1}_t W_{l+1}[:m]^T) + dz_{t+1} W[D:]^T
    dc_t = dh_t * o_t * (1 - tanh^2(c_t)) + dc_{t+1} * f_{t+1}
    dz^i = dc_t * g_t * i_t (1 - i_t)      dz^f = dc_t * c_{t-1} * f_t (1 - f_t)
    dz^g = dc_t * i_t * (1 - g_t^2)        dz^o = dh_t * tanh(c_t) * o_t (1 - o_t)
    dW[:D] = sum_t x_t^T dz_t    dW[D:] = sum_t h_{t-1}^T dz_t    db = sum_t (rows of) dz_t
    dV = sum_t ds_t^T (d^L_t * h^L_t)     dc = sum_t (rows of) ds_t

so every gradient is the batch's mean of each stream's own (lib/rnn.py's loss_and_grads_batch).

Initialisation (``init_params``): W_l ~ U(-1/sqrt(m), 1/sqrt(m)), PyTorch's default for its cells;
b_l = 0 except the forget gate's block, 1 (Jozefowicz et al. 2015: a cell that starts by keeping
its memory); V ~ N(0, 1/m); c = 0.

How it is computed: every array follows the parameters' dtype (float32 stays float32; complex128
carries the complex-step check). The input term x_t W[:D] + b is taken for all t at once (a row
lookup in layer 1, one product above it), so a step is one product h_{t-1} W[D:] for all four
gates and a few elementwise calls; after the loop, dW[D:] is one product over all t of the
stacked h_{t-1} (n B, m) and dz_t (n B, 4m), dW[:D] one more (layer 1: a one-hot matrix, which
BLAS multiplies faster than numpy scatters rows), the output layer one product each way.
sigma(a) is computed as (1 + tanh(a / 2)) / 2, the same function, which never overflows and holds
for complex a: the gate columns i, f, o of W[D:] and of the input term are halved first (exact in
binary floating point), so one tanh over the step's (B, 4m) pre-activations serves all four
gates. The step's products run transposed (W[D:]^T h_{t-1}^T, W[D:] dz_{t+1}^T), which OpenBLAS
does faster at these shapes (measured: 0.18 against 0.28 ms at m = 256, B = 32, float32).
"""

import threading
from collections import OrderedDict

import numpy as np

CELL = "lstm"
GATES = 4
LOSSES = ("sum", "mean")


# ------------------------------------------------------------ shared with lib/gru.py

# The large arrays of a pass (the tapes, dz) are kept from call to call: a fresh one costs its page
# faults again, 9 of 54 ms of an LSTM update measured here (m = 256, B = 32, n = 50). Per thread, at
# most WORKSPACE_ARRAYS of them, the least recently used dropped first, none above WORKSPACE_MAX_BYTES
# (an evaluation over a whole text, say, which would otherwise stay in memory); none is ever returned.
WORKSPACE_ARRAYS = 32
WORKSPACE_MAX_BYTES = 64 * 2**20
_workspace = threading.local()


def workspace(name, shape, dtype):
    """An uninitialised array of shape and dtype, kept under name for the next call that asks for it."""
    if np.prod(shape, dtype=np.int64) * np.dtype(dtype).itemsize > WORKSPACE_MAX_BYTES:
        return np.empty(shape, dtype=dtype)
    arrays = getattr(_workspace, "arrays", None)
    if arrays is None:
        arrays = _workspace.arrays = OrderedDict()
    key = (name, tuple(shape), np.dtype(dtype).str)
    array = arrays.pop(key, None)
    arrays[key] = np.empty(shape, dtype=dtype) if array is None else array
    while len(arrays) > WORKSPACE_ARRAYS:
        arrays.popitem(last=False)
    return arrays[key]


def check_sizes(K, m, layers):
    """Raise ValueError (one line) unless K, m and layers are positive integers."""
    for name, value in (("K", K), ("m", m), ("layers", layers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_dtype(dtype):
    """The numpy dtype for dtype, which must be float32 or float64 (else ValueError, one line)."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return resolved


def uniform_weights(rng, shape, m, dtype):
    """W ~ U(-1/sqrt(m), 1/sqrt(m)), drawn in float64 (so a seed gives the same model in every dtype)."""
    bound = 1.0 / np.sqrt(m)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def output_weights(rng, K, m, dtype):
    """V ~ N(0, 1/m) (K, m) and c = 0 (K,), V drawn in float64 after every layer's W."""
    return {"V": (rng.standard_normal((K, m)) / np.sqrt(m)).astype(dtype), "c": np.zeros(K, dtype=dtype)}


def check_batch(params, X, Y, state, state_arrays, loss="sum", dropout=0.0, rng=None):
    """X, Y as (B, n) int arrays, after checking every argument (ValueError, one line, naming it).

    state_arrays is how many (B, m) arrays a state holds (LSTM 2 per layer, GRU 1).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}, got {loss!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.integer, np.floating)) \
            or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    if dropout > 0 and rng is None:
        raise ValueError("dropout > 0 needs rng, a numpy Generator to draw its masks from; got rng=None")
    X, Y = np.asarray(X), np.asarray(Y)
    K, m = params["V"].shape
    if X.ndim != 2 or X.shape != Y.shape or X.shape[1] == 0 or not np.issubdtype(X.dtype, np.integer) \
            or not np.issubdtype(Y.dtype, np.integer):
        raise ValueError(f"X and Y must be (B, n) int arrays of one shape with n >= 1, got {X.shape} and {Y.shape}")
    for name, Z in (("X", X), ("Y", Y)):
        if Z.size and (Z.min() < 0 or Z.max() >= K):
            raise ValueError(f"{name} holds character indices outside 0 .. K - 1 = {K - 1}")
    check_state(state, state_arrays, X.shape[0], m)
    return X, Y


def check_state(state, state_arrays, B, m):
    """Raise ValueError (one line) unless state is a tuple of state_arrays (B, m) arrays."""
    shapes = [np.shape(s) for s in state]
    if len(shapes) != state_arrays or any(shape != (B, m) for shape in shapes):
        raise ValueError(f"state must be {state_arrays} arrays of shape ({B}, {m}) (init_state gives them), "
                         f"got shapes {shapes}")


def check_step_input(params, x):
    """x as a (B,) int array of character indices, after checking it (ValueError, one line)."""
    x = np.asarray(x)
    K = params["V"].shape[0]
    if x.ndim != 1 or not np.issubdtype(x.dtype, np.integer) or (x.size and (x.min() < 0 or x.max() >= K)):
        raise ValueError(f"x must be a (B,) int array of character indices in 0 .. {K - 1}, got shape {x.shape}")
    return x


def dropout_masks(rng, p, layers, n, B, m, dtype):
    """Each layer's inverted-dropout mask (n, B, m), layer 1 first: (u >= p) / (1 - p) in dtype, u = rng.random
    in float32 (the same masks in every dtype; float32 draws cost a fifth of float64's, ~1 ms a batch of
    the recipe against ~5 of a 75 ms update); None for each layer when p = 0 (nothing drawn)."""
    if p == 0:
        return [None] * layers
    masks = []
    for _ in range(layers):
        mask = (rng.random((n, B, m), dtype=np.float32) >= p).astype(dtype)
        mask *= 1 / (1 - p)
        masks.append(mask)
    return masks


def output_forward(params, H_top):
    """Log-probabilities (n, B, K) of the top layer's (dropped) outputs H_top (n, B, m)."""
    V, c = params["V"], params["c"]
    n, B, m = H_top.shape
    S = H_top.reshape(n * B, m) @ V.T + c                     # s_t = h_t V^T + c, for all t at once
    # log p = s - log sum exp s, shifted by the real maximum (leaves a complex step's imaginary part alone)
    S -= S.real.max(axis=1, keepdims=True)
    S -= np.log(np.exp(S).sum(axis=1, keepdims=True))         # log p_t = log softmax(s_t)
    return S.reshape(n, B, -1)


def sequence_loss(logP, Y, loss):
    """The batch's loss: the mean over its B streams of each one's -sum_t log p_t[y_t] (/ n for "mean")."""
    n, B, _ = logP.shape
    total = -logP[np.arange(n)[:, None], np.arange(B), Y.T].sum()
    return (total / (B * n) if loss == "mean" else total / B).item()


def output_backward(params, logP, Y, H_top, loss, grads):
    """dV, dc into grads; returns dH (n, B, m), the loss's gradient at the (dropped) top outputs H_top."""
    n, B, K = logP.shape
    m = H_top.shape[2]
    dS = np.exp(logP).reshape(n * B, K)                       # p_t
    dS[np.arange(n * B), Y.T.reshape(-1)] -= 1                # ds_t = p_t - onehot(y_t)
    dS /= B * n if loss == "mean" else B                      # the batch's mean (and the mean over t)
    grads["V"] = dS.T @ H_top.reshape(n * B, m)               # dV = sum_t ds_t^T h_t
    grads["c"] = dS.sum(axis=0)                               # dc = sum_t ds_t
    return (dS @ params["V"]).reshape(n, B, m)                # ds_t V


def one_hot(X, K, dtype):
    """(n * B, K) one-hot rows of the (n, B) indices X, row t * B + j for X[t, j] (a workspace array)."""
    rows = workspace("one_hot", (X.size, K), dtype)
    rows[...] = 0
    rows[np.arange(X.size), X.reshape(-1)] = 1
    return rows


def layer_input_grads(X_in, dZ, D):
    """dW[:D] = sum_t x_t^T dz_t for one layer's inputs X_in: (n, B) indices (layer 1, D = K) or (n, B, D)."""
    n, B, G = dZ.shape
    rows = one_hot(X_in, D, dZ.dtype) if X_in.ndim == 2 else X_in.reshape(n * B, D)
    return rows.T @ dZ.reshape(n * B, G)


def input_term(W, b, D, X_in, scale=None, name="G"):
    """x_t W[:D] + b for all t at once, (n, B, G) in the workspace array name: a row lookup for indices
    X_in (n, B), else one product of X_in (n, B, D); times scale (G,) when given."""
    n, B = X_in.shape[:2]
    Z = workspace(name, (n, B, W.shape[1]), np.result_type(W, b) if X_in.ndim == 2 else np.result_type(W, b, X_in))
    if X_in.ndim == 2:
        rows = W[:D] + b                                      # (K, G): row k is onehot(k) W[:K] + b
        if scale is not None:
            rows *= scale
        # mode="clip" takes the rows straight into Z ("raise" goes through a buffer); X_in is checked already
        np.take(rows, X_in, axis=0, out=Z, mode="clip")       # x_t W[:K] + b = row x_t, for every t and stream
        return Z
    np.matmul(X_in.reshape(n * B, D), W[:D], out=Z.reshape(n * B, -1))
    Z += b
    if scale is not None:
        Z *= scale
    return Z


def dims(params, layer):
    """(D, m) of a layer: its input width and its hidden size."""
    W = params[f"W{layer}"]
    m = params["V"].shape[1]
    return W.shape[0] - m, m


# ------------------------------------------------------------------------ the LSTM

def param_shapes(K, m, layers=1):
    """Shape of each parameter, in canonical order: W1 (K + m, 4m), b1 (4m,), W2 (2m, 4m), ..., V (K, m), c (K,)."""
    check_sizes(K, m, layers)
    shapes = {}
    for l in range(1, layers + 1):
        D = K if l == 1 else m
        shapes[f"W{l}"], shapes[f"b{l}"] = (D + m, GATES * m), (GATES * m,)
    shapes["V"], shapes["c"] = (K, m), (K,)
    return shapes


def init_params(K, m, rng, layers=1, dtype=np.float64):
    """The initialisation of the module docstring, as a dict in ``param_shapes``' order, in dtype.

    W_l ~ U(-1/sqrt(m), 1/sqrt(m)); b_l = 0 except its forget-gate block [m:2m], 1; V ~ N(0, 1/m); c = 0.
    Drawn from rng (a numpy Generator) in float64 in this order: W1, W2, ..., WL, then V; cast to dtype
    (float32 or float64). A seed gives the same model every time.
    """
    dtype = check_dtype(dtype)
    params = {}
    for name, shape in param_shapes(K, m, layers).items():
        if name.startswith("W"):
            params[name] = uniform_weights(rng, shape, m, dtype)
        elif name.startswith("b"):
            params[name] = np.zeros(shape, dtype=dtype)
            params[name][m:2 * m] = 1                          # the forget gate's bias
    params.update(output_weights(rng, K, m, dtype))
    return params


def layers_of(params):
    """The number of stacked layers L."""
    return sum(1 for name in params if name.startswith("W"))


def hidden_size(params):
    """The hidden size m."""
    return params["V"].shape[1]


def init_state(params, batch_size):
    """Zero states (h_1, c_1, ..., h_L, c_L), each (batch_size, m) in params' dtype."""
    m, dtype = hidden_size(params), params["V"].dtype
    return tuple(np.zeros((batch_size, m), dtype=dtype) for _ in range(2 * layers_of(params)))


def _gate_scales(m, dtype):
    """(4m,) factors 1/2 on the sigmoid gates i, f, o and 1 on g, and the offsets 1/2 and 0: with T the
    tanh of the halved pre-activations, gates = T * scale + offset (sigma(a) = (1 + tanh(a/2)) / 2)."""
    scale = np.full(GATES * m, 0.5, dtype=dtype)
    scale[2 * m:3 * m] = 1
    offset = np.where(scale == 1, 0, 0.5).astype(dtype)
    return scale, offset


def _layer_forward(W, b, D, X_in, h0, c0, layer=1):
    """One layer over all n steps. X_in: (n, B) indices (layer 1) or (n, B, D) inputs.

    Returns the tape, workspace arrays: G (n, B, 4m) gates [i, f, g, o], C (n + 1, B, m) with
    C[0] = c_0, TC (n, B, m) tanh(c_t), H (n + 1, B, m) with H[0] = h_0.
    """
    m = h0.shape[1]
    n, B = X_in.shape[:2]
    scale, offset = _gate_scales(m, W.dtype)
    G = input_term(W, b, D, X_in, scale, f"G{layer}")         # (x_t W[:D] + b) halved on i, f, o, for all t
    W_h_T = np.ascontiguousarray((W[D:] * scale).T)           # (4m, m): W[D:]^T halved on i, f, o (exact)
    C = workspace(f"C{layer}", (n + 1, B, m), G.dtype)
    H = workspace(f"H{layer}", (n + 1, B, m), G.dtype)
    TC = workspace(f"TC{layer}", (n, B, m), G.dtype)
    C[0], H[0] = c0, h0
    recurrent_T = np.empty((GATES * m, B), dtype=G.dtype)     # (h_{t-1} W[D:])^T: BLAS is faster this way round
    ig = np.empty((B, m), dtype=G.dtype)
    for t in range(n):
        g_t = G[t]
        np.matmul(W_h_T, H[t].T, out=recurrent_T)            # h_{t-1} W[D:], halved on i, f, o (transposed)
        g_t += recurrent_T.T                                  # z_t = x_t W[:D] + h_{t-1} W[D:] + b (halved)
        np.tanh(g_t, out=g_t)
        g_t *= scale
        g_t += offset                                         # i, f, o = sigma(z^i, z^f, z^o); g = tanh(z^g)
        i, f, g, o = g_t[:, :m], g_t[:, m:2 * m], g_t[:, 2 * m:3 * m], g_t[:, 3 * m:]
        np.multiply(f, C[t], out=C[t + 1])
        np.multiply(i, g, out=ig)
        C[t + 1] += ig                                        # c_t = f_t * c_{t-1} + i_t * g_t
        np.tanh(C[t + 1], out=TC[t])
        np.multiply(o, TC[t], out=H[t + 1])                   # h_t = o_t * tanh(c_t)
    return {"G": G, "C": C, "TC": TC, "H": H}


def _layer_backward(W, D, tape, dH_above, layer=1):
    """Backpropagation through one layer's n steps.

    dH_above: (n, B, m) the loss's gradient at h_t from above (the output layer or the next layer).
    Returns dZ (n, B, 4m), the gradient at the pre-activations z_t (a workspace array).
    """
    G, C, TC = tape["G"], tape["C"], tape["TC"]
    n, B, m = dH_above.shape
    W_h = W[D:]
    dZ = workspace(f"dZ{layer}", G.shape, G.dtype)
    dh = np.empty((B, m), dtype=G.dtype)
    dh_T = np.empty((m, B), dtype=G.dtype)                    # (dz_{t+1} W[D:]^T)^T: BLAS is faster this way round
    dc = np.empty((B, m), dtype=G.dtype)
    dc_next = np.zeros((B, m), dtype=G.dtype)                 # dc_{t+1} * f_{t+1}: 0 after the last step
    work = np.empty((B, m), dtype=G.dtype)
    # Step by step rather than for all t at once: a step's (B, 4m) arrays stay in the cache.
    for t in range(n - 1, -1, -1):
        if t == n - 1:
            dh[...] = dH_above[t]                             # dz_{n+1} = 0
        else:
            np.matmul(W_h, dZ[t + 1].T, out=dh_T)
            np.add(dh_T.T, dH_above[t], out=dh)               # dh_t = (from above) + dz_{t+1} W[D:]^T
        i, f, g, o = G[t, :, :m], G[t, :, m:2 * m], G[t, :, 2 * m:3 * m], G[t, :, 3 * m:]
        dz_i, dz_f, dz_g, dz_o = dZ[t, :, :m], dZ[t, :, m:2 * m], dZ[t, :, 2 * m:3 * m], dZ[t, :, 3 * m:]
        np.multiply(TC[t], TC[t], out=work)
        np.subtract(1, work, out=work)
        work *= o
        np.multiply(dh, work, out=dc)
        dc += dc_next                                         # dc_t = dh_t o_t (1 - tanh^2 c_t) + dc_{t+1} f_{t+1}
        np.subtract(1, G[t], out=dZ[t])
        dZ[t] *= G[t]                                         # sigma' = sigma (1 - sigma) on i, f, o (g: next)
        np.multiply(g, g, out=dz_g)
        np.subtract(1, dz_g, out=dz_g)                        # tanh' = 1 - g^2 on g
        dz_i *= g
        dz_f *= C[t]
        dz_g *= i
        dz_o *= TC[t]
        # dz^i = dc_t g_t i_t (1 - i_t), dz^f = dc_t c_{t-1} f_t (1 - f_t), dz^g = dc_t i_t (1 - g_t^2):
        dZ[t].reshape(B, GATES, m)[:, :3] *= dc[:, None, :]
        dz_o *= dh                                            # dz^o = dh_t tanh(c_t) o_t (1 - o_t)
        np.multiply(dc, f, out=dc_next)                       # dc_t f_t, for step t - 1
    return dZ


def _forward(params, X, state, masks):
    """All layers over X (B, n): the tapes, each layer's (dropped) input, the top's dropped outputs (n, B, m)."""
    L = layers_of(params)
    X_in = X.T                                                # (n, B): time-major, row t every stream's x_t
    tapes, inputs = [], []
    for l in range(1, L + 1):
        D, _ = dims(params, l)
        tape = _layer_forward(params[f"W{l}"], params[f"b{l}"], D, X_in, state[2 * l - 2], state[2 * l - 1], l)
        tapes.append(tape)
        inputs.append(X_in)
        X_in = tape["H"][1:] if masks[l - 1] is None else tape["H"][1:] * masks[l - 1]   # d^l_t * h^l_t
    return tapes, inputs, X_in


def _last_state(tapes):
    return tuple(a for tape in tapes for a in (tape["H"][-1].copy(), tape["C"][-1].copy()))


def loss_and_grads(params, X, Y, state, loss="sum", dropout=0.0, rng=None):
    """The batch's loss, its exact (unclipped) gradients and the state after the last step.

    Args:
        params: as ``init_params`` gives (float32, float64 or, for the complex step, complex128).
        X, Y: (B, n) int inputs and targets, row j stream j.  state: as ``init_state`` gives.
        loss: "sum" or "mean", each stream's loss over its n characters (the batch's is their mean).
        dropout: p in [0, 1), inverted dropout on each layer's outputs going up; masks drawn from rng,
            layer 1 first, each (n, B, m) at once (p = 0 draws nothing; rng may then be None).
    Returns:
        (loss, grads, state_last): a float, a dict shaped like params in its dtype, a tuple like state.
    """
    X, Y = check_batch(params, X, Y, state, 2 * layers_of(params), loss, dropout, rng)
    L, m = layers_of(params), hidden_size(params)
    B, n = X.shape
    masks = dropout_masks(rng, dropout, L, n, B, m, params["V"].dtype)
    tapes, inputs, H_top = _forward(params, X, state, masks)
    logP = output_forward(params, H_top)
    value = sequence_loss(logP, Y, loss)
    last = _last_state(tapes)
    grads = {}
    dH = output_backward(params, logP, Y, H_top, loss, grads)
    for l in range(L, 0, -1):
        if masks[l - 1] is not None:
            dH *= masks[l - 1]                                # through d^l_t
        W = params[f"W{l}"]
        D, _ = dims(params, l)
        dZ = _layer_backward(W, D, tapes[l - 1], dH, l)
        flat_dZ = dZ.reshape(n * B, GATES * m)
        dW = np.empty_like(W)
        dW[:D] = layer_input_grads(inputs[l - 1], dZ, D)             # dW[:D] = sum_t x_t^T dz_t
        dW[D:] = tapes[l - 1]["H"][:-1].reshape(n * B, m).T @ flat_dZ       # dW[D:] = sum_t h_{t-1}^T dz_t
        grads[f"W{l}"], grads[f"b{l}"] = dW, flat_dZ.sum(axis=0)          # db = sum_t dz_t
        if l > 1:
            dH = (flat_dZ @ W[:D].T).reshape(n, B, m)                     # dz_t W[:m]^T, to the layer below
    return value, {name: grads[name] for name in params}, last


def loss(params, X, Y, state, loss="sum"):
    """Forward pass only, no dropout (evaluation): (the batch's loss, the state after the last step)."""
    X, Y = check_batch(params, X, Y, state, 2 * layers_of(params), loss)
    tapes, _, H_top = _forward(params, X, state, [None] * layers_of(params))
    return sequence_loss(output_forward(params, H_top), Y, loss), _last_state(tapes)


def step(params, state, x):
    """One step of every layer for sampling: x (B,) int; returns (the new state, the logits (B, K))."""
    x = check_step_input(params, x)
    L, m = layers_of(params), hidden_size(params)
    check_state(state, 2 * L, x.shape[0], m)
    X_in, new = x[None, :], []
    for l in range(1, L + 1):
        D, _ = dims(params, l)
        tape = _layer_forward(params[f"W{l}"], params[f"b{l}"], D, X_in, state[2 * l - 2], state[2 * l - 1], l)
        new += [tape["H"][1].copy(), tape["C"][1].copy()]     # copies: the tape is a workspace
        X_in = tape["H"][1:]
    return tuple(new), new[-2] @ params["V"].T + params["c"]              # s = h^L V^T + c
