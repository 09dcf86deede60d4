"""PyTorch's nn.LSTM and nn.GRU as oracles for lib/lstm.py and lib/gru.py, and as their speed reference.

Our parameters map one to one onto PyTorch's (the gate orders are PyTorch's): for layer l, with D
its input width, weight_ih = W_l[:D]^T, weight_hh = W_l[D:]^T, bias_ih = b_l and bias_hh = 0, but
for the GRU the bias_hh block of n holds bn_l (b_hn, which the reset gate multiplies). The output
layer is a Linear with weight V and bias c. Inputs go in as one-hot rows (B, n, K), batch_first.

torch is imported inside the functions: this module imports where PyTorch is not installed.
"""

import numpy as np

CELLS = ("lstm", "gru")


def _module(cell, params, dtype):
    """(recurrent, output) torch modules holding copies of params, in dtype (a torch dtype)."""
    import torch

    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(map(repr, CELLS))}, got {cell!r}")
    K, m = params["V"].shape
    layers = sum(1 for name in params if name.startswith("W"))
    kind = torch.nn.LSTM if cell == "lstm" else torch.nn.GRU
    recurrent = kind(input_size=K, hidden_size=m, num_layers=layers, batch_first=True, dtype=dtype)
    output = torch.nn.Linear(m, K, dtype=dtype)
    with torch.no_grad():
        for l in range(1, layers + 1):
            W = torch.as_tensor(np.asarray(params[f"W{l}"]), dtype=dtype)
            D = W.shape[0] - m
            getattr(recurrent, f"weight_ih_l{l - 1}").copy_(W[:D].T)
            getattr(recurrent, f"weight_hh_l{l - 1}").copy_(W[D:].T)
            getattr(recurrent, f"bias_ih_l{l - 1}").copy_(torch.as_tensor(params[f"b{l}"], dtype=dtype))
            bias_hh = getattr(recurrent, f"bias_hh_l{l - 1}")
            bias_hh.zero_()
            if cell == "gru":
                bias_hh[2 * m:] = torch.as_tensor(params[f"bn{l}"], dtype=dtype)
        output.weight.copy_(torch.as_tensor(params["V"], dtype=dtype))
        output.bias.copy_(torch.as_tensor(params["c"], dtype=dtype))
    return recurrent, output


def _torch_state(cell, state, dtype):
    """Our state tuple as PyTorch's: h0 (L, B, m), and (h0, c0) for the LSTM."""
    import torch

    arrays = [torch.as_tensor(np.asarray(s), dtype=dtype) for s in state]
    if cell == "lstm":
        return torch.stack(arrays[0::2]), torch.stack(arrays[1::2])
    return torch.stack(arrays)


def _batch_loss(recurrent, output, X, Y, hidden, loss, K):
    """The batch's loss as lib/lstm.py defines it (mean over streams of each one's sum, or mean, over t),
    and the state after the last step."""
    import torch

    X, Y = torch.as_tensor(np.asarray(X)), torch.as_tensor(np.asarray(Y))
    B, n = X.shape
    inputs = torch.nn.functional.one_hot(X, K).to(output.weight.dtype)   # (B, n, K)
    outputs, last = recurrent(inputs, hidden)
    logits = output(outputs)                                              # (B, n, K)
    per_character = torch.nn.functional.cross_entropy(logits.reshape(B * n, K), Y.reshape(B * n),
                                                      reduction="none")
    total = per_character.sum() / B
    return (total / n if loss == "mean" else total), last


def torch_loss_and_grads(cell, params, X, Y, state, loss="sum"):
    """PyTorch's loss and gradients of our network, in float64, by automatic differentiation.

    Args:
        cell: "lstm" or "gru".  params: our parameters (lib/lstm.py's or lib/gru.py's names).
        X, Y: (B, n) int arrays.  state: our state tuple.  loss: "sum" or "mean".
    Returns:
        (loss, grads): a float and a dict of float64 arrays in our names and shapes.
    """
    import torch

    K, m = params["V"].shape
    recurrent, output = _module(cell, params, torch.float64)
    value, _ = _batch_loss(recurrent, output, X, Y, _torch_state(cell, state, torch.float64), loss, K)
    value.backward()
    grads = {}
    for name in params:
        if name[0] in "Wb" and name[1:].isdigit():
            l = int(name[1:]) - 1
            if name[0] == "W":
                grads[name] = torch.cat([getattr(recurrent, f"weight_ih_l{l}").grad.T,
                                         getattr(recurrent, f"weight_hh_l{l}").grad.T]).numpy()
            else:   # b feeds bias_ih's place; for the LSTM (and the GRU's r, z) bias_hh's gradient is the same
                grads[name] = getattr(recurrent, f"bias_ih_l{l}").grad.numpy().copy()
        elif name.startswith("bn"):
            grads[name] = getattr(recurrent, f"bias_hh_l{int(name[2:]) - 1}").grad[2 * m:].numpy().copy()
    grads["V"], grads["c"] = output.weight.grad.numpy().copy(), output.bias.grad.numpy().copy()
    return float(value.detach()), {name: grads[name] for name in params}


def torch_training_step(cell, params, eta=2e-3, loss="mean"):
    """PyTorch's training step on our network in float32: forward, backward and an Adam update
    (torch.optim.Adam, betas 0.9 and 0.999, eps 1e-8) of nn.LSTM / nn.GRU and a Linear output,
    the state carried from call to call as our training carries it.

    Returns:
        run(X, Y, state) -> (loss, state): X, Y (B, n) int arrays; state PyTorch's, None at first.
    """
    import torch

    K, _ = params["V"].shape
    recurrent, output = _module(cell, params, torch.float32)
    optimizer = torch.optim.Adam([*recurrent.parameters(), *output.parameters()], lr=eta,
                                 betas=(0.9, 0.999), eps=1e-8)

    def run(X, Y, state=None):
        optimizer.zero_grad(set_to_none=True)
        value, last = _batch_loss(recurrent, output, X, Y, state, loss, K)
        value.backward()
        optimizer.step()
        detached = tuple(s.detach() for s in last) if isinstance(last, tuple) else last.detach()
        return float(value.detach()), detached

    return run
