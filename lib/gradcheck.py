"""Numerical gradients of the RNN loss, to check the analytic ones of the training path (``rnn_fast``).

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

from lib import rnn, rnn_fast

TINY = 1e-300
COMPLEX_STEP = 1e-30


def _perturbed_losses(params, x, y, h0, name, dtype, deltas):
    """Loss after adding each of ``deltas`` to every entry of params[name] in turn.

    Returns an array of shape params[name].shape + (len(deltas),).
    """
    work = {k: v.astype(dtype) for k, v in params.items()}
    h0 = np.asarray(h0, dtype=dtype)
    flat = work[name].reshape(-1)
    out = np.empty((flat.size, len(deltas)), dtype=dtype)
    arrays = rnn_fast.workspace(len(x), *params["U"].shape, dtype=dtype, backward=False)
    for i in range(flat.size):
        original = flat[i]
        for j, delta in enumerate(deltas):
            flat[i] = original + delta
            out[i, j] = rnn_fast.loss(work, x, y, h0, arrays)[0]
        flat[i] = original
    return out.reshape(params[name].shape + (len(deltas),))


def central_difference_grads(params, x, y, h0, h=1e-4):
    """Central-difference gradients of the sequence loss, a dict shaped like params."""
    grads = {}
    for name in rnn.PARAM_NAMES:
        f = _perturbed_losses(params, x, y, h0, name, np.float64, (h, -h))
        grads[name] = (f[..., 0] - f[..., 1]) / (2 * h)
    return grads


def complex_step_grads(params, x, y, h0, eps=COMPLEX_STEP):
    """Complex-step gradients Im f(theta + i eps) / eps, a dict shaped like params."""
    grads = {}
    for name in rnn.PARAM_NAMES:
        f = _perturbed_losses(params, x, y, h0, name, np.complex128, (1j * eps,))
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


def gradient_check(params, x, y, h0, h=1e-4, eps=COMPLEX_STEP):
    """Compare analytic gradients with both numerical kinds, parameter by parameter.

    Args:
        params: dict of model parameters (float64).  x, y: (n,) int arrays.  h0: (m,).
    Returns:
        {name: {"central_max_rel", "central_norm_rel", "complex_max_rel",
        "complex_norm_rel"}} for name in b, c, U, W, V.
    """
    _, analytic, _ = rnn_fast.loss_and_grads(params, x, y, h0)
    central = central_difference_grads(params, x, y, h0, h=h)
    complex_ = complex_step_grads(params, x, y, h0, eps=eps)
    table = {}
    for name in rnn.PARAM_NAMES:
        cmax, cnorm = relative_errors(analytic[name], central[name])
        zmax, znorm = relative_errors(analytic[name], complex_[name])
        table[name] = {
            "central_max_rel": cmax,
            "central_norm_rel": cnorm,
            "complex_max_rel": zmax,
            "complex_norm_rel": znorm,
        }
    return table


def check_on_text(text, m_values=(3, 100), seq_length=25, sigma=0.01, seed=0, h=1e-4):
    """The course's check: the first seq_length characters of text, random init, each m.

    The vocabulary is the whole text's, as in training.
    Returns:
        {str(m): gradient_check table} for each m in m_values.
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
    for m in m_values:
        params = rnn.init_params(len(vocab), m, sigma, np.random.default_rng(seed))
        results[str(m)] = gradient_check(params, x, y, np.zeros(m), h=h)
    return results


def format_error(value):
    """How relative errors are printed everywhere (notebook and report)."""
    return f"{value:.2e}"


def markdown_table(results):
    """A Markdown table of check_on_text's results: one row per (m, parameter)."""
    lines = ["| m | parameter | central, max | central, norm | complex step, max "
             "| complex step, norm |",
             "|---:|:---:|---:|---:|---:|---:|"]
    for m, table in results.items():
        for name in rnn.PARAM_NAMES:
            row = table[name]
            lines.append(f"| {m} | {name} | " + " | ".join(
                format_error(row[k]) for k in ("central_max_rel", "central_norm_rel",
                                               "complex_max_rel", "complex_norm_rel")) + " |")
    return "\n".join(lines)


def verdict(results, complex_tol=1e-10, central_tol=1e-6):
    """Whether every m and parameter meets both tolerances, with a sentence per criterion.

    Returns:
        {"passed": bool, "text": str}; the worst values are named in the text.
    """
    rows = [(m, name, row) for m, table in results.items() for name, row in table.items()]
    worst_complex = max(rows, key=lambda r: r[2]["complex_max_rel"])
    worst_central = max(rows, key=lambda r: r[2]["central_norm_rel"])
    ok_complex = worst_complex[2]["complex_max_rel"] < complex_tol
    ok_central = worst_central[2]["central_norm_rel"] < central_tol
    text = (
        f"complex step, max elementwise: worst {format_error(worst_complex[2]['complex_max_rel'])} "
        f"({worst_complex[1]}, m={worst_complex[0]}), {'below' if ok_complex else 'NOT below'} "
        f"{complex_tol:g}\n"
        f"central differences, norm-relative: worst {format_error(worst_central[2]['central_norm_rel'])} "
        f"({worst_central[1]}, m={worst_central[0]}), {'below' if ok_central else 'NOT below'} "
        f"{central_tol:g}")
    if ok_complex and not ok_central:
        # Central differences all 0 give a norm-relative error of exactly 1 for every parameter:
        # theta + h rounds to theta, or the loss moves by less than its last bit.
        if all(row["central_norm_rel"] == 1.0 for _, _, row in rows):
            cause = ("central differences are 0 for every entry: h is too small for them (f(theta + h) and "
                     "f(theta - h) are the same float)")
        else:
            cause = ("h is too small for central differences (their round-off, about 1e-16 |f| / h, swamps "
                     "them) or too large (their truncation error, about h^2)")
        text += (f"\nthe complex step agrees, so the analytic gradients are right; {cause}. "
                 f"The course's h = 1e-4 suits them")
    return {"passed": ok_complex and ok_central, "text": text}
