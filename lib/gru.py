"""The model math of a character-level GRU, one or more layers stacked (numpy only).

Shapes, with K the vocabulary size, m the hidden size, L the number of layers, B the number of
streams and n the sequence length; layer l reads D_l values a step, D_1 = K, D_l = m above it.

    W_l (D_l + m, 3m): rows [:D_l] act on the layer's input x_t, rows [D_l:] on its h_{t-1};
                       its columns are three blocks of m, r, z, n (PyTorch's order)
    b_l (3m,)          bn_l (m,): the recurrent bias of the candidate, inside r * (PyTorch's b_hn)
    V (K, m)           c (K,)    (the output layer, as lib/rnn.py's)
    state: (h_1, ..., h_L), each (B, m)      X, Y (B, n) int: row j holds stream j's inputs and targets

Each layer computes, for t = 1 .. n (rows are streams; sigma(a) = 1 / (1 + exp(-a)) elementwise):

    a_t = h_{t-1} W[D:]                           (B, 3m): the blocks a^r, a^z, a^n
    r_t = sigma(x_t W[:D]^r + b^r + a^r)          z_t = sigma(x_t W[:D]^z + b^z + a^z)
    n_t = tanh(x_t W[:D]^n + b^n + r_t * (a^n + bn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

x_t and the output layer are lib/lstm.py's: layer 1 reads the row W[X[:, t]], layer l > 1 reads
d^{l-1}_t * h^{l-1}_t, and s_t = (d^L_t * h^L_t) V^T + c, p_t = softmax(s_t), the loss the batch's
mean of each stream's -sum_t log p_t[y_t] (/ n for "mean"), dropout's masks d as there.

Backward, from t = n down to 1, with the gradient from step n + 1 zero:

    dh_t = d_t * (ds_t V  or, below the top, dx^{l+1}_t W_{l+1}[:m]^T) + dh_{t+1} * z_{t+1} + da_{t+1} W[D:]^T
    dn^pre = dh_t * (1 - z_t) * (1 - n_t^2)                   (at n's pre-activation)
    dz^pre = dh_t * (h_{t-1} - n_t) * z_t (1 - z_t)
    dr^pre = dn^pre * (a^n + bn) * r_t (1 - r_t)
    dx_t = [dr^pre, dz^pre, dn^pre]: the gradient at x_t W[:D] + b      da_t = [dr^pre, dz^pre, dn^pre * r_t]
    dW[:D] = sum_t x_t^T dx_t    db = sum_t dx_t    dW[D:] = sum_t h_{t-1}^T da_t    dbn = sum_t dn^pre * r_t

Every gradient is the batch's mean of each stream's own.

Initialisation (``init_params``): W_l ~ U(-1/sqrt(m), 1/sqrt(m)) (PyTorch's default for its cells),
b_l = 0, bn_l = 0, V ~ N(0, 1/m), c = 0.

How it is computed: as lib/lstm.py (its docstring's last paragraph): every array in the parameters'
dtype, the input term for all t at once, one product h_{t-1} W[D:] a step for all three blocks,
the weight gradients one product each over all t, sigma(a) = (1 + tanh(a / 2)) / 2 with the r, z
columns halved first, the recurrent products taken transposed.
"""

import numpy as np

from lib.lstm import (check_batch, check_dtype, check_sizes, check_state, check_step_input, dims,
                      dropout_masks, hidden_size, input_term, layer_input_grads, layers_of, output_backward,
                      output_forward, output_weights, sequence_loss, uniform_weights, workspace)

CELL = "gru"
GATES = 3


def param_shapes(K, m, layers=1):
    """Shape of each parameter, in canonical order: W1 (K + m, 3m), b1 (3m,), bn1 (m,), W2 (2m, 3m), ...,
    V (K, m), c (K,)."""
    check_sizes(K, m, layers)
    shapes = {}
    for l in range(1, layers + 1):
        D = K if l == 1 else m
        shapes[f"W{l}"], shapes[f"b{l}"], shapes[f"bn{l}"] = (D + m, GATES * m), (GATES * m,), (m,)
    shapes["V"], shapes["c"] = (K, m), (K,)
    return shapes


def init_params(K, m, rng, layers=1, dtype=np.float64):
    """The initialisation of the module docstring, as a dict in ``param_shapes``' order, in dtype.

    W_l ~ U(-1/sqrt(m), 1/sqrt(m)); b_l, bn_l = 0; V ~ N(0, 1/m); c = 0. Drawn from rng (a numpy
    Generator) in float64 in this order: W1, W2, ..., WL, then V; cast to dtype (float32 or float64).
    """
    dtype = check_dtype(dtype)
    params = {}
    for name, shape in param_shapes(K, m, layers).items():
        if name.startswith("W"):
            params[name] = uniform_weights(rng, shape, m, dtype)
        elif name.startswith("b"):
            params[name] = np.zeros(shape, dtype=dtype)
    params.update(output_weights(rng, K, m, dtype))
    return params


def init_state(params, batch_size):
    """Zero states (h_1, ..., h_L), each (batch_size, m) in params' dtype."""
    m, dtype = hidden_size(params), params["V"].dtype
    return tuple(np.zeros((batch_size, m), dtype=dtype) for _ in range(layers_of(params)))


def _layer_forward(W, b, bn, D, X_in, h0, layer=1):
    """One layer over all n steps. X_in: (n, B) indices (layer 1) or (n, B, D) inputs.

    Returns the tape, workspace arrays: G (n, B, 3m) [r, z, n], AN (n, B, m) a^n + bn, H (n + 1, B, m)
    with H[0] = h_0.
    """
    m = h0.shape[1]
    n, B = X_in.shape[:2]
    halve_rz = np.ones(GATES * m, dtype=W.dtype)
    halve_rz[:2 * m] = 0.5
    G = input_term(W, b, D, X_in, halve_rz, f"G{layer}")      # x_t W[:D] + b, halved on r, z, for all t
    W_h_T = np.ascontiguousarray((W[D:] * halve_rz).T)       # (3m, m): W[D:]^T, halved on r, z (exact)
    H = workspace(f"H{layer}", (n + 1, B, m), G.dtype)
    AN = workspace(f"AN{layer}", (n, B, m), G.dtype)
    H[0] = h0
    recurrent_T = np.empty((GATES * m, B), dtype=G.dtype)     # a_t^T: BLAS is faster this way round
    rn = np.empty((B, m), dtype=G.dtype)
    for t in range(n):
        np.matmul(W_h_T, H[t].T, out=recurrent_T)            # a_t = h_{t-1} W[D:] (r, z halved), transposed
        a_t = recurrent_T.T
        rz = G[t, :, :2 * m]
        rz += a_t[:, :2 * m]
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5                                             # r_t, z_t = sigma(x_t W[:D] + b + a_t)
        r, z, n_t = G[t, :, :m], G[t, :, m:2 * m], G[t, :, 2 * m:]
        np.add(a_t[:, 2 * m:], bn, out=AN[t])                 # a^n + bn
        np.multiply(r, AN[t], out=rn)
        n_t += rn
        np.tanh(n_t, out=n_t)                                 # n_t = tanh(x_t W[:D]^n + b^n + r_t * (a^n + bn))
        np.subtract(H[t], n_t, out=H[t + 1])
        H[t + 1] *= z
        H[t + 1] += n_t                                       # h_t = (1 - z_t) * n_t + z_t * h_{t-1}
    return {"G": G, "AN": AN, "H": H}


def _layer_backward(W, D, tape, dH_above, layer=1):
    """Backpropagation through one layer's n steps.

    dH_above: (n, B, m) the loss's gradient at h_t from above (the output layer or the next layer).
    Returns (dX, dA): (n, B, 3m) each, the gradients at x_t W[:D] + b and at a_t (dX written over G;
    workspace arrays).
    """
    G, AN, H = tape["G"], tape["AN"], tape["H"]
    n, B, m = dH_above.shape
    W_h = W[D:]
    dA = workspace(f"dA{layer}", G.shape, G.dtype)
    dX = G                                                    # step t's gates are read before dX[t] is written
    dh = np.empty((B, m), dtype=G.dtype)
    dh_T = np.empty((m, B), dtype=G.dtype)                    # (da_{t+1} W[D:]^T)^T: BLAS is faster this way round
    through_z = np.zeros((B, m), dtype=G.dtype)               # dh_{t+1} * z_{t+1}: 0 after the last step
    work = np.empty((B, m), dtype=G.dtype)
    dpre = np.empty((B, GATES * m), dtype=G.dtype)            # [dr^pre, dz^pre, dn^pre]
    for t in range(n - 1, -1, -1):
        if t == n - 1:
            np.add(dH_above[t], through_z, out=dh)
        else:
            np.matmul(W_h, dA[t + 1].T, out=dh_T)
            np.add(dh_T.T, dH_above[t], out=dh)
            dh += through_z                                   # dh_t = (above) + dh_{t+1} z_{t+1} + da_{t+1} W[D:]^T
        r, z, n_t = G[t, :, :m], G[t, :, m:2 * m], G[t, :, 2 * m:]
        dr, dz, dn = dpre[:, :m], dpre[:, m:2 * m], dpre[:, 2 * m:]
        np.multiply(n_t, n_t, out=work)
        np.subtract(1, work, out=work)
        np.subtract(1, z, out=dn)
        dn *= work
        dn *= dh                                              # dn^pre = dh_t (1 - z_t) (1 - n_t^2)
        np.subtract(H[t], n_t, out=dz)
        np.subtract(1, z, out=work)
        work *= z
        dz *= work
        dz *= dh                                              # dz^pre = dh_t (h_{t-1} - n_t) z_t (1 - z_t)
        np.subtract(1, r, out=work)
        work *= r
        work *= AN[t]
        np.multiply(dn, work, out=dr)                         # dr^pre = dn^pre (a^n + bn) r_t (1 - r_t)
        np.multiply(dh, z, out=through_z)                     # dh_t z_t, for step t - 1
        dA[t, :, :2 * m] = dpre[:, :2 * m]
        np.multiply(dn, r, out=dA[t, :, 2 * m:])              # da_t = [dr^pre, dz^pre, dn^pre r_t]
        dX[t] = dpre                                          # dx_t = [dr^pre, dz^pre, dn^pre]
    return dX, dA


def _forward(params, X, state, masks):
    """All layers over X (B, n): the tapes, each layer's (dropped) input, the top's dropped outputs (n, B, m)."""
    X_in, tapes, inputs = X.T, [], []                         # (n, B): time-major, row t every stream's x_t
    for l in range(1, layers_of(params) + 1):
        D, _ = dims(params, l)
        tape = _layer_forward(params[f"W{l}"], params[f"b{l}"], params[f"bn{l}"], D, X_in, state[l - 1], l)
        tapes.append(tape)
        inputs.append(X_in)
        X_in = tape["H"][1:] if masks[l - 1] is None else tape["H"][1:] * masks[l - 1]   # d^l_t * h^l_t
    return tapes, inputs, X_in


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
    L, m = layers_of(params), hidden_size(params)
    X, Y = check_batch(params, X, Y, state, L, loss, dropout, rng)
    B, n = X.shape
    masks = dropout_masks(rng, dropout, L, n, B, m, params["V"].dtype)
    tapes, inputs, H_top = _forward(params, X, state, masks)
    logP = output_forward(params, H_top)
    value = sequence_loss(logP, Y, loss)
    last = tuple(tape["H"][-1].copy() for tape in tapes)
    grads = {}
    dH = output_backward(params, logP, Y, H_top, loss, grads)
    for l in range(L, 0, -1):
        if masks[l - 1] is not None:
            dH *= masks[l - 1]                                # through d^l_t
        W = params[f"W{l}"]
        D, _ = dims(params, l)
        dX, dA = _layer_backward(W, D, tapes[l - 1], dH, l)
        flat_dX, flat_dA = dX.reshape(n * B, GATES * m), dA.reshape(n * B, GATES * m)
        dW = np.empty_like(W)
        dW[:D] = layer_input_grads(inputs[l - 1], dX, D)                  # dW[:D] = sum_t x_t^T dx_t
        dW[D:] = tapes[l - 1]["H"][:-1].reshape(n * B, m).T @ flat_dA      # dW[D:] = sum_t h_{t-1}^T da_t
        grads[f"W{l}"], grads[f"b{l}"] = dW, flat_dX.sum(axis=0)          # db = sum_t dx_t
        grads[f"bn{l}"] = flat_dA[:, 2 * m:].sum(axis=0)                  # dbn = sum_t dn^pre r_t
        if l > 1:
            dH = (flat_dX @ W[:D].T).reshape(n, B, m)                     # dx_t W[:m]^T, to the layer below
    return value, {name: grads[name] for name in params}, last


def loss(params, X, Y, state, loss="sum"):
    """Forward pass only, no dropout (evaluation): (the batch's loss, the state after the last step)."""
    X, Y = check_batch(params, X, Y, state, layers_of(params), loss)
    tapes, _, H_top = _forward(params, X, state, [None] * layers_of(params))
    return sequence_loss(output_forward(params, H_top), Y, loss), tuple(tape["H"][-1].copy() for tape in tapes)


def step(params, state, x):
    """One step of every layer for sampling: x (B,) int; returns (the new state, the logits (B, K))."""
    x = check_step_input(params, x)
    L, m = layers_of(params), hidden_size(params)
    check_state(state, L, x.shape[0], m)
    X_in, new = x[None, :], []
    for l in range(1, L + 1):
        D, _ = dims(params, l)
        tape = _layer_forward(params[f"W{l}"], params[f"b{l}"], params[f"bn{l}"], D, X_in, state[l - 1], l)
        new.append(tape["H"][1].copy())                       # a copy: the tape is a workspace
        X_in = tape["H"][1:]
    return tuple(new), new[-1] @ params["V"].T + params["c"]              # s = h^L V^T + c
