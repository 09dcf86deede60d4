"""Numerical gradients of the RNN loss, to check the analytic ones of lib/rnn.py (and through it the fast path's).

Two kinds:

* central differences, (f(theta + h) - f(theta - h)) / 2h with h = 1e-4 (the
  course's ComputeGradsNum). Its error is truncation O(h^2) plus round-off
  ~ eps * |f| / h, so it agrees with the analytic gradient to about 1e-7 in the
  norm-relative sense. Elementwise it can look much worse on entries whose true
  gradient is near zero: there the round-off is the whole difference and the
  ratio |a - n| / (|a| + |n|) approaches 1. At m = 100 this shows up mostly in
  W, whose gradient entries are products of two small hidden states; its
  elementwise maximum is around 1e-3 while its norm-relative error stays
  below 1e-6. The norm-relative figure is the meaningful one for this method.
* complex step, Im f(theta + i eps) / eps with eps = 1e-30: the same forward
  pass in complex arithmetic. There is no subtraction, so nothing cancels and
  the result agrees with the analytic gradient entry by entry down to
  round-off (relative errors of 1e-12 or better).
"""

import numpy as np

from lib import network, rnn, rnn_fast

TINY = 1e-300
COMPLEX_STEP = 1e-30


def _perturbed_losses(params, x, y, h0, name, dtype, deltas, loss="sum"):
    """Loss (lib.rnn's, "sum" or "mean") after adding each of ``deltas`` to every entry of params[name] in turn.

    Returns an array of shape params[name].shape + (len(deltas),).
    """
    h0 = np.asarray(h0, dtype=dtype)
    return _perturbed(params, lambda work: rnn.loss(work, x, y, h0, loss)[0], name, dtype, deltas)


def central_difference_grads(params, x, y, h0, h=1e-4, loss="sum"):
    """Central-difference gradients of the sequence loss, a dict shaped like params."""
    grads = {}
    for name in rnn.PARAM_NAMES:
        f = _perturbed_losses(params, x, y, h0, name, np.float64, (h, -h), loss)
        grads[name] = (f[..., 0] - f[..., 1]) / (2 * h)
    return grads


def complex_step_grads(params, x, y, h0, eps=COMPLEX_STEP, loss="sum"):
    """Complex-step gradients Im f(theta + i eps) / eps, a dict shaped like params."""
    grads = {}
    for name in rnn.PARAM_NAMES:
        f = _perturbed_losses(params, x, y, h0, name, np.complex128, (1j * eps,), loss)
        grads[name] = f[..., 0].imag / eps
    return grads


def relative_errors(analytic, numerical):
    """Two relative errors between gradient arrays of one shape.

    Returns:
        (max_rel, norm_rel): max over entries of |a - n| / max(tiny, |a| + |n|),
        and ||a - n|| / max(tiny, ||a|| + ||n||).
    """
    a = np.asarray(analytic, dtype=float)
    n = np.asarray(numerical, dtype=float)
    diff = np.abs(a - n)
    max_rel = float(np.max(diff / np.maximum(TINY, np.abs(a) + np.abs(n))))
    norm_rel = float(np.linalg.norm(a - n) / max(TINY, np.linalg.norm(a) + np.linalg.norm(n)))
    return max_rel, norm_rel


def gradient_check(params, x, y, h0, h=1e-4, eps=COMPLEX_STEP, loss="sum", with_torch=None):
    """Compare lib/rnn.py's analytic gradients with its oracles, parameter by parameter: the two
    numerical kinds, PyTorch's automatic differentiation (with_torch None: when it is installed),
    and the fast path's gradients (lib/rnn_fast.py against lib/rnn.py).

    Args:
        params: dict of model parameters (float64).  x, y: (n,) int arrays.  h0: (m,).
        loss: "sum" or "mean", the loss whose gradients are checked.
    Returns:
        {name: {"<oracle>_max_rel", "<oracle>_norm_rel" for each oracle in central, complex,
        torch (when run) and fast}} for name in b, c, U, W, V.
    """
    _, analytic, _ = rnn.loss_and_grads(params, x, y, h0, loss)
    oracles = {"central": central_difference_grads(params, x, y, h0, h=h, loss=loss),
               "complex": complex_step_grads(params, x, y, h0, eps=eps, loss=loss)}
    if torch_available() if with_torch is None else with_torch:
        oracles["torch"] = torch_loss_and_grads(params, x, y, h0, loss)[1]
    oracles["fast"] = rnn_fast.loss_and_grads(params, x, y, h0, loss=loss)[1]
    table = {}
    for name in rnn.PARAM_NAMES:
        table[name] = {}
        for kind, grads in oracles.items():
            table[name][f"{kind}_max_rel"], table[name][f"{kind}_norm_rel"] = relative_errors(analytic[name],
                                                                                                grads[name])
    return table


# PyTorch is an optional extra: every check without it still runs, and says how to add it.
TORCH_MISSING = ("PyTorch is not installed, so the check against its automatic differentiation was left out: "
                 "pip install 'char-rnn-notebooks[torch]' adds it (README: PyTorch)")


def torch_available():
    """Whether PyTorch can be imported here (it is looked for, not imported)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def torch_step(params, loss="sum"):
    """PyTorch's loss and gradients of the same network, in float64: an oracle written apart from
    lib/rnn.py (no backward pass of ours; autograd differentiates torch operations), and the
    reference lib.speed times. The parameters are kept as tensors, the input projection is taken for
    the whole sequence at once, the recurrence is a loop, the outputs one product.

    Returns:
        run(x, y, h0) -> (loss, {name: gradient tensor}), for x, y (n,) int arrays and h0 (m,).
    """
    import torch

    weights = {name: torch.tensor(params[name], dtype=torch.float64, requires_grad=True)
               for name in rnn.PARAM_NAMES}
    b, c, U, W, V = (weights[name] for name in rnn.PARAM_NAMES)

    def run(x, y, h0):
        for weight in weights.values():
            weight.grad = None
        inputs = U.T[torch.from_numpy(x)] + b                # (n, m): U x_t + b for every t
        h, states = torch.from_numpy(h0), []
        for t in range(len(x)):
            h = torch.tanh(W @ h + inputs[t])
            states.append(h)
        logits = torch.stack(states) @ V.T + c
        value = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y), reduction=loss)
        value.backward()
        return float(value.detach()), {name: weight.grad for name, weight in weights.items()}

    return run


def torch_loss_and_grads(params, x, y, h0, loss="sum"):
    """``torch_step`` once: (loss, grads), a float and a dict of numpy arrays shaped like params."""
    value, grads = torch_step(params, loss)(np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64),
                                            np.asarray(h0, dtype=np.float64))
    return value, {name: grads[name].numpy().copy() for name in rnn.PARAM_NAMES}


LOSS_UNITS = ("sum", "mean")


def check_on_text(text, m_values=(3, 100), seq_length=25, sigma=0.01, seed=0, h=1e-4, losses=LOSS_UNITS,
                  init="normal", with_torch=None):
    """The course's check: the first seq_length characters of text, random init, each m, each loss unit.

    The vocabulary is the whole text's, as in training.
    Returns:
        {loss: {str(m): gradient_check table}} for each loss in losses and m in m_values.
    """
    from lib.text import corpus

    for m in m_values:
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m <= 0:
            raise ValueError(f"m_values must hold positive integers, got {m!r}")
    vocab = corpus.build_vocab(text)
    if len(text) < seq_length + 1:
        raise corpus.CorpusError(f"text too short for the gradient check: {len(text)} characters, "
                                 f"needs seq_length + 1 = {seq_length + 1}")
    data = corpus.encode(text[:seq_length + 1], vocab)
    x, y = data[:-1], data[1:]
    results = {}
    for loss in losses:
        results[loss] = {}
        for m in m_values:
            params = rnn.init_params(len(vocab), m, sigma, np.random.default_rng(seed), init)
            results[loss][str(m)] = gradient_check(params, x, y, np.zeros(m), h=h, loss=loss, with_torch=with_torch)
    return results


def rows(results):
    """[(loss, m, name, row)] of check_on_text's results, in order."""
    return [(loss, int(m), name, row) for loss, by_m in results.items() for m, table in by_m.items()
            for name, row in table.items()]


def oracles(results):
    """The oracles the results hold, of central, complex, torch and fast, in that order."""
    present = {key.rsplit("_", 2)[0] for *_, row in rows(results) for key in row}
    return [kind for kind in ORACLE_TITLES if kind in present]


ORACLE_TITLES = {"central": "central", "complex": "complex step", "torch": "PyTorch", "fast": "fast path"}


def format_error(value):
    """How relative errors are printed everywhere (notebook and report)."""
    return f"{value:.2e}"


NUMERICAL, EXACT = ("central", "complex"), ("torch", "fast")


def markdown_table(results, kinds=NUMERICAL):
    """A Markdown table of check_on_text's results: one row per (loss, m, parameter), two columns for
    each oracle of kinds that the results hold (NUMERICAL, or EXACT: PyTorch and the fast path)."""
    kinds = [k for k in oracles(results) if k in kinds]
    lines = ["| loss | m | parameter | " + " | ".join(f"{ORACLE_TITLES[k]}, max | {ORACLE_TITLES[k]}, norm"
                                                     for k in kinds) + " |",
             "|:---:|---:|:---:|" + "---:|" * (2 * len(kinds))]
    for loss, m, name, row in rows(results):
        lines.append(f"| {loss} | {m} | {name} | " + " | ".join(
            f"{format_error(row[k + '_max_rel'])} | {format_error(row[k + '_norm_rel'])}" for k in kinds) + " |")
    return "\n".join(lines)


# The figure each oracle is judged by: its largest elementwise error, but central differences'
# norm-relative one (noisy where the true gradient is near zero: see the module docstring).
CRITERIA = (("complex", "max", "complex step, max elementwise"),
            ("central", "norm", "central differences, norm-relative"),
            ("torch", "max", "PyTorch's automatic differentiation, max elementwise"),
            ("fast", "max", "the fast path (lib/rnn_fast.py), max elementwise"))


def criteria_table(results):
    """A Markdown table of the figure each oracle is judged by (CRITERIA), one row per (loss, m, parameter)."""
    present = oracles(results)
    columns = [(kind, measure) for kind, measure, _ in CRITERIA if kind in present]
    lines = ["| loss | m | parameter | " + " | ".join(f"{ORACLE_TITLES[k]}, {w}" for k, w in columns) + " |",
             "|:---:|---:|:---:|" + "---:|" * len(columns)]
    for loss, m, name, row in rows(results):
        lines.append(f"| {loss} | {m} | {name} | " + " | ".join(format_error(row[f"{k}_{w}_rel"]) for k, w in columns)
                     + " |")
    return "\n".join(lines)


def verdict(results, complex_tol=1e-10, central_tol=1e-6, exact_tol=1e-10, found=None):
    """Whether every loss unit, m and parameter meets each oracle's tolerance, with a sentence per oracle.

    The complex step, PyTorch and the fast path must agree elementwise to exact_tol (complex_tol
    for the complex step), central differences in the norm-relative sense to central_tol.
    Returns:
        {"passed": bool, "text": str}; the worst values are named in the text.
    """
    found = rows(results) if found is None else found
    tolerances = {"complex": complex_tol, "central": central_tol, "torch": exact_tol, "fast": exact_tol}
    lines, ok = [], {}
    for kind, measure, words in CRITERIA:
        tol = tolerances[kind]
        key = f"{kind}_{measure}_rel"
        if not all(key in r[3] for r in found):
            continue
        loss, m, name, row = max(found, key=lambda r: r[3][key])
        ok[kind] = row[key] < tol
        where = f"m={m}" if isinstance(m, int) else m
        lines.append(f"{words}: worst {format_error(row[key])} ({name}, {where}, loss {loss}), "
                     f"{'below' if ok[kind] else 'NOT below'} {tol:g}")
    if ok["complex"] and not ok["central"]:
        # Central differences all 0 give a norm-relative error of exactly 1 for every parameter:
        # theta + h rounds to theta, or the loss moves by less than its last bit.
        if all(row["central_norm_rel"] == 1.0 for *_, row in found):
            cause = ("central differences are 0 for every entry: h is too small for them (f(theta + h) and "
                     "f(theta - h) are the same float)")
        else:
            cause = ("h is too small for central differences (their round-off, about 1e-16 |f| / h, swamps "
                     "them) or too large (their truncation error, about h^2)")
        lines.append(f"the complex step agrees, so the analytic gradients are right; {cause}. "
                     f"The course's h = 1e-4 suits them")
    return {"passed": all(ok.values()), "text": "\n".join(lines)}


# ----------------------------------------------------------- the gated cells (lib/lstm.py, lib/gru.py)

def cell_gradient_check(params, X, Y, loss="sum", h=1e-4, eps=COMPLEX_STEP, with_torch=None):
    """A gated network's analytic gradients (its module's loss_and_grads, from the zero state) against
    central differences, the complex step and PyTorch's nn.LSTM / nn.GRU (with_torch None: when installed).

    Args:
        params: a gated network's parameters (float64).  X, Y: (B, n) int arrays.  loss: "sum" or "mean".
    Returns:
        {name: {"<oracle>_max_rel", "<oracle>_norm_rel"}} as ``gradient_check`` gives, for every parameter.
    """
    cell = network.module(network.cell_of(params))
    state = cell.init_state(params, X.shape[0])

    def value(work):
        return cell.loss(work, X, Y, tuple(s.astype(work["V"].dtype) for s in state), loss)[0]

    _, analytic, _ = cell.loss_and_grads(params, X, Y, state, loss)
    oracles = {"central": {}, "complex": {}}
    for name in params:
        f = _perturbed(params, value, name, np.float64, (h, -h))
        oracles["central"][name] = (f[..., 0] - f[..., 1]) / (2 * h)
        oracles["complex"][name] = _perturbed(params, value, name, np.complex128, (1j * eps,))[..., 0].imag / eps
    if torch_available() if with_torch is None else with_torch:
        from lib import torch_cells
        oracles["torch"] = torch_cells.torch_loss_and_grads(network.cell_of(params), params, X, Y, state, loss)[1]
    return {name: {f"{kind}_{w}_rel": e for kind, grads in oracles.items()
                   for w, e in zip(("max", "norm"), relative_errors(analytic[name], grads[name]))}
            for name in params}


def _perturbed(params, value, name, dtype, deltas):
    """value(params') for params' = params in dtype with each of deltas added to each entry of params[name]
    in turn: an array of shape params[name].shape + (len(deltas),)."""
    work = {k: v.astype(dtype) for k, v in params.items()}
    flat = work[name].reshape(-1)
    out = np.empty((flat.size, len(deltas)), dtype=dtype)
    for i in range(flat.size):
        original = flat[i]
        for j, delta in enumerate(deltas):
            flat[i] = original + delta
            out[i, j] = value(work)
        flat[i] = original
    return out.reshape(params[name].shape + (len(deltas),))


GATED_CELLS = ("lstm", "gru")


def check_cells_on_text(text, cells=GATED_CELLS, layers_values=(1, 2), m=10, seq_length=25, batch_size=3, seed=0,
                        h=1e-4, with_torch=None):
    """The gated cells' check on the text's first characters, as the course checks its own cell: for each
    cell and number of layers, one stream of seq_length characters with the loss summed (2021's unit), and
    batch_size streams (the text's next pieces) with its mean (2026's), from lib.network's initialisation.

    Returns:
        {cell: {str(layers): {"sum": table of one stream, "mean": table of the batch}}}.
    """
    from lib.text import corpus

    vocab = corpus.build_vocab(text)
    need = batch_size * seq_length + 1
    if len(text) < need:
        raise corpus.CorpusError(f"text too short for the gated cells' gradient check: {len(text)} characters, "
                                 f"needs batch_size * seq_length + 1 = {need}")
    data = corpus.encode(text[:need], vocab)
    streams = np.stack([data[i * seq_length:(i + 1) * seq_length + 1] for i in range(batch_size)])
    results = {}
    for cell in cells:
        results[cell] = {}
        for layers in layers_values:
            params = network.module(cell).init_params(len(vocab), m, np.random.default_rng(seed), layers)
            results[cell][str(layers)] = {
                "sum": cell_gradient_check(params, streams[:1, :-1], streams[:1, 1:], "sum", h, with_torch=with_torch),
                "mean": cell_gradient_check(params, streams[:, :-1], streams[:, 1:], "mean", h,
                                            with_torch=with_torch)}
    return results


def cell_rows(results):
    """[(loss, where, name, row)] of check_cells_on_text's results, ``where`` naming the cell, its layers and
    its streams (the form ``verdict`` takes as found=)."""
    return [(loss, f"{cell.upper()} of {layers} layer{'s' if layers != '1' else ''}, "
                   f"{'one stream' if loss == 'sum' else 'a batch'}", name, row)
            for cell, by_layers in results.items() for layers, by_loss in by_layers.items()
            for loss, table in by_loss.items() for name, row in table.items()]


def cell_table(results):
    """A Markdown table of the figure each oracle is judged by (CRITERIA), one row per cell, layers, loss and
    parameter of check_cells_on_text's results."""
    found = cell_rows(results)
    columns = [(kind, w) for kind, w, _ in CRITERIA if all(f"{kind}_{w}_rel" in r[3] for r in found)]
    lines = ["| network | loss | parameter | " + " | ".join(f"{ORACLE_TITLES[k]}, {w}" for k, w in columns) + " |",
             "|:---|:---:|:---:|" + "---:|" * len(columns)]
    for loss, where, name, row in found:
        lines.append(f"| {where} | {loss} | {name} | "
                     + " | ".join(format_error(row[f"{k}_{w}_rel"]) for k, w in columns) + " |")
    return "\n".join(lines)


def cell_verdict(results):
    """``verdict`` of check_cells_on_text's results."""
    return verdict(results, found=cell_rows(results))
