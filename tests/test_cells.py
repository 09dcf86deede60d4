"""lib/lstm.py and lib/gru.py: gradients against central differences, the complex step and PyTorch; a batch
against separate runs; step() against the forward pass; dtypes, the initialisation and bad values."""

import subprocess
import sys

import numpy as np
import pytest
from test_gradcheck import _torch  # the PyTorch oracle's rule: skipped without torch, failed under CI

from lib import gradcheck, gru, lstm, torch_cells
from lib.text import corpus

MODULES = {"lstm": lstm, "gru": gru}
CELLS = pytest.mark.parametrize("cell", list(MODULES))
LAYERS = pytest.mark.parametrize("layers", [1, 2])
SEQ = 25


def _windows(text, B, n=SEQ):
    """K and B streams X, Y (B, n) of the text's characters, stream j starting at 40 j."""
    vocab = corpus.build_vocab(text)
    data = corpus.encode(text, vocab)
    starts = 40 * np.arange(B)
    return len(vocab), np.stack([data[s:s + n] for s in starts]), np.stack([data[s + 1:s + n + 1] for s in starts])


def _model(cell, K, m, layers, B, seed):
    """Parameters away from the initialisation's near-linear start (every bias nonzero) and a nonzero state."""
    module = MODULES[cell]
    rng = np.random.default_rng(seed)
    params = module.init_params(K, m, rng, layers=layers)
    for name in params:
        params[name] = params[name] + rng.normal(0, 0.3, params[name].shape)
    state = tuple(rng.uniform(-0.8, 0.8, s.shape) for s in module.init_state(params, B))
    return params, state


def _numerical_grads(f, params, kind, h=1e-4, eps=gradcheck.COMPLEX_STEP):
    """Central differences (f(theta + h) - f(theta - h)) / 2h, or the complex step Im f(theta + i eps) / eps,
    of a loss f(params) for every entry of every parameter."""
    dtype = np.complex128 if kind == "complex" else np.float64
    work = {name: value.astype(dtype) for name, value in params.items()}
    grads = {}
    for name, value in work.items():
        grads[name] = np.empty(value.shape)
        flat = value.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            if kind == "complex":
                flat[i] = original + 1j * eps
                grads[name].flat[i] = f(work).imag / eps
            else:
                flat[i] = original + h
                up = f(work)
                flat[i] = original - h
                grads[name].flat[i] = (up - f(work)) / (2 * h)
            flat[i] = original
    return grads


@CELLS
@LAYERS
@pytest.mark.parametrize("B, loss", [(1, "sum"), (3, "mean")])
def test_gradients_against_central_differences_and_the_complex_step(english_text, cell, layers, B, loss):
    """The handout's m = 10 and seq_length = 25, one stream and a batch of three."""
    module = MODULES[cell]
    K, X, Y = _windows(english_text, B)
    params, state = _model(cell, K, 10, layers, B, seed=10 * layers + B)
    _, analytic, _ = module.loss_and_grads(params, X, Y, state, loss)

    def f(work):
        return module.loss(work, X, Y, tuple(s.astype(work["V"].dtype) for s in state), loss)[0]
    central, complex_step = _numerical_grads(f, params, "central"), _numerical_grads(f, params, "complex")
    assert list(analytic) == list(params)
    for name in params:
        assert analytic[name].shape == params[name].shape and analytic[name].dtype == np.float64
        _, central_norm_rel = gradcheck.relative_errors(analytic[name], central[name])
        complex_max_rel, _ = gradcheck.relative_errors(analytic[name], complex_step[name])
        assert central_norm_rel < 1e-6, (name, central_norm_rel)
        assert complex_max_rel < 1e-10, (name, complex_max_rel)


@CELLS
@LAYERS
def test_gradients_with_dropout_against_central_differences(english_text, cell, layers):
    """The same seed each call draws the same masks, so the loss is a function of the parameters alone."""
    module = MODULES[cell]
    K, X, Y = _windows(english_text, 2, n=12)
    params, state = _model(cell, K, 6, layers, 2, seed=3)
    _, analytic, _ = module.loss_and_grads(params, X, Y, state, "sum", dropout=0.4, rng=np.random.default_rng(9))
    without, _, _ = module.loss_and_grads(params, X, Y, state, "sum")

    def f(work):
        return module.loss_and_grads(work, X, Y, state, "sum", dropout=0.4, rng=np.random.default_rng(9))[0]
    assert f(params) != pytest.approx(without)                            # the masks change the loss
    central = _numerical_grads(f, params, "central")
    for name in params:
        _, central_norm_rel = gradcheck.relative_errors(analytic[name], central[name])
        assert central_norm_rel < 1e-6, (name, central_norm_rel)


@CELLS
@LAYERS
def test_a_batch_equals_separate_runs(english_text, cell, layers):
    module = MODULES[cell]
    K, X, Y = _windows(english_text, 3)
    params, state = _model(cell, K, 8, layers, 3, seed=5)
    value, grads, last = module.loss_and_grads(params, X, Y, state, "sum")
    separate = [module.loss_and_grads(params, X[j:j + 1], Y[j:j + 1], tuple(s[j:j + 1] for s in state), "sum")
                for j in range(3)]
    assert value == pytest.approx(np.mean([run[0] for run in separate]), rel=1e-13)
    for name in params:
        np.testing.assert_allclose(grads[name], np.mean([run[1][name] for run in separate], axis=0),
                                   rtol=1e-11, atol=1e-14, err_msg=name)
    for k, s in enumerate(last):
        np.testing.assert_allclose(s, np.concatenate([run[2][k] for run in separate]), rtol=1e-13, atol=1e-15)


@CELLS
@LAYERS
def test_loss_equals_loss_and_grads_and_step_follows_the_forward_pass(english_text, cell, layers):
    module = MODULES[cell]
    K, X, Y = _windows(english_text, 2)
    params, state = _model(cell, K, 8, layers, 2, seed=6)
    value, _, last = module.loss_and_grads(params, X, Y, state, "sum")
    forward_value, forward_last = module.loss(params, X, Y, state, "sum")
    assert forward_value == value
    for a, b in zip(last, forward_last):
        assert np.array_equal(a, b)
    # step() character by character: its logits give the same cross-entropy, its state the same last state
    stepped, total = state, 0.0
    for t in range(X.shape[1]):
        stepped, logits = module.step(params, stepped, X[:, t])
        assert logits.shape == (2, K)
        log_p = logits - np.log(np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)) \
            - logits.max(axis=1, keepdims=True)
        total -= log_p[np.arange(2), Y[:, t]].sum()
    assert total / 2 == pytest.approx(value, rel=1e-12)
    for a, b in zip(stepped, last):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@CELLS
@pytest.mark.parametrize("arrays", ["kept", "fresh"])
def test_what_a_call_returns_survives_the_next_call(english_text, cell, arrays, monkeypatch):
    """The passes reuse their large arrays from call to call (lstm.workspace); nothing returned is one.
    With a cap of 0 bytes every array is fresh, and the numbers are the same."""
    caps = {"kept": lstm.WORKSPACE_MAX_BYTES, "fresh": 0}
    monkeypatch.setattr(lstm, "WORKSPACE_MAX_BYTES", caps[arrays])
    module = MODULES[cell]
    K, X, Y = _windows(english_text, 2)
    params, state = _model(cell, K, 8, 2, 2, seed=8)
    value, grads, last = module.loss_and_grads(params, X, Y, state, "sum")
    kept = (value, {name: g.copy() for name, g in grads.items()}, tuple(s.copy() for s in last))
    stepped, logits = module.step(params, state, X[:, 0])
    kept_step = (tuple(s.copy() for s in stepped), logits.copy())
    module.loss_and_grads(params, Y, X, last, "mean", dropout=0.3, rng=np.random.default_rng(0))
    module.loss(params, X[:, ::-1], Y, state)
    module.step(params, stepped, X[:, 1])
    assert all(np.array_equal(grads[name], kept[1][name]) for name in grads)
    assert all(np.array_equal(a, b) for a, b in zip(last + stepped, kept[2] + kept_step[0]))
    assert np.array_equal(logits, kept_step[1])
    with monkeypatch.context() as other:                                  # the other cap: the same numbers
        other.setattr(lstm, "WORKSPACE_MAX_BYTES", caps["kept" if arrays == "fresh" else "fresh"])
        again = module.loss_and_grads(params, X, Y, state, "sum")
    assert again[0] == value and all(np.array_equal(again[1][name], kept[1][name]) for name in grads)


@CELLS
@LAYERS
def test_float32_parameters_compute_in_float32(english_text, cell, layers):
    module = MODULES[cell]
    K, X, Y = _windows(english_text, 3)
    params64 = module.init_params(K, 16, np.random.default_rng(2), layers=layers)
    params32 = module.init_params(K, 16, np.random.default_rng(2), layers=layers, dtype=np.float32)
    assert all(params32[name].dtype == np.float32 for name in params32)
    assert all(np.array_equal(params32[name], params64[name].astype(np.float32)) for name in params64)
    state = module.init_state(params32, 3)
    assert all(s.dtype == np.float32 for s in state)
    value32, grads32, last32 = module.loss_and_grads(params32, X, Y, state, "mean", dropout=0.2,
                                                     rng=np.random.default_rng(1))
    value64, grads64, _ = module.loss_and_grads(params64, X, Y, module.init_state(params64, 3), "mean",
                                                dropout=0.2, rng=np.random.default_rng(1))
    assert all(grads32[name].dtype == np.float32 for name in grads32)
    assert all(s.dtype == np.float32 for s in last32)
    assert all(s.dtype == np.float32 for s in module.loss(params32, X, Y, state)[1])
    stepped, logits = module.step(params32, state, X[:, 0])
    assert logits.dtype == np.float32 and all(s.dtype == np.float32 for s in stepped)
    assert value32 == pytest.approx(value64, rel=1e-5)
    for name in params64:
        _, norm_rel = gradcheck.relative_errors(grads32[name], grads64[name])
        assert norm_rel < 1e-4, (name, norm_rel)


@CELLS
@LAYERS
def test_the_initialisation(cell, layers):
    module = MODULES[cell]
    K, m = 7, 5
    shapes = module.param_shapes(K, m, layers)
    per_layer = ("W", "b", "bn") if cell == "gru" else ("W", "b")
    assert list(shapes) == [f"{p}{l}" for l in range(1, layers + 1) for p in per_layer] + ["V", "c"]
    assert shapes["W1"] == (K + m, module.GATES * m) and shapes["V"] == (K, m) and shapes["c"] == (K,)
    if layers == 2:
        assert shapes["W2"] == (2 * m, module.GATES * m)
    params = module.init_params(K, m, np.random.default_rng(4), layers=layers)
    again = module.init_params(K, m, np.random.default_rng(4), layers=layers)
    assert list(params) == list(shapes)
    assert all(params[name].shape == shapes[name] and np.array_equal(params[name], again[name]) for name in shapes)
    assert module.layers_of(params) == layers and module.hidden_size(params) == m
    assert all(np.abs(params[f"W{l}"]).max() <= 1 / np.sqrt(m) for l in range(1, layers + 1))
    assert not params["c"].any() and params["V"].std() > 0
    for l in range(1, layers + 1):
        forget = np.zeros(module.GATES * m)
        if cell == "lstm":
            forget[m:2 * m] = 1                                       # gates i, f, g, o: f's bias 1
        assert np.array_equal(params[f"b{l}"], forget)
    state = module.init_state(params, 3)
    assert len(state) == (2 if cell == "lstm" else 1) * layers
    assert all(s.shape == (3, m) and not s.any() for s in state)


def test_the_output_weights_spread_as_stated():
    params = lstm.init_params(80, 256, np.random.default_rng(0))
    assert params["V"].std() == pytest.approx(1 / np.sqrt(256), rel=0.02)
    assert params["W1"].std() == pytest.approx(1 / np.sqrt(3 * 256), rel=0.02)   # U(-a, a) has std a / sqrt(3)


@CELLS
@pytest.mark.parametrize("arguments, named", [({"loss": "median"}, "loss"), ({"dropout": 1}, "dropout"),
                                              ({"dropout": -0.1}, "dropout"), ({"dropout": 0.5}, "rng")])
def test_bad_values_raise_one_line(english_text, cell, arguments, named):
    module = MODULES[cell]
    K, X, Y = _windows(english_text, 2)
    params = module.init_params(K, 4, np.random.default_rng(0))
    with pytest.raises(ValueError) as raised:
        module.loss_and_grads(params, X, Y, module.init_state(params, 2), **arguments)
    assert named in str(raised.value) and "\n" not in str(raised.value)


@CELLS
def test_bad_shapes_and_sizes_raise_one_line(english_text, cell):
    module = MODULES[cell]
    K, X, Y = _windows(english_text, 2)
    params = module.init_params(K, 4, np.random.default_rng(0))
    for call, named in ((lambda: module.loss(params, X, Y, module.init_state(params, 3)), "state"),
                        (lambda: module.loss(params, X, Y[:, :-1], module.init_state(params, 2)), "X and Y"),
                        (lambda: module.loss(params, X + K, Y, module.init_state(params, 2)), "X holds"),
                        (lambda: module.step(params, module.init_state(params, 2), X[:, :2]), "x must"),
                        (lambda: module.init_params(K, 0, np.random.default_rng(0)), "m must"),
                        (lambda: module.init_params(K, 4, np.random.default_rng(0), dtype="float16"), "dtype")):
        with pytest.raises(ValueError) as raised:
            call()
        assert named in str(raised.value) and "\n" not in str(raised.value)


# ---------------------------------------------------------------- PyTorch as an oracle

@CELLS
@LAYERS
@pytest.mark.parametrize("B, loss", [(1, "sum"), (1, "mean"), (3, "sum"), (3, "mean")])
def test_pytorch_autograd_agrees_in_float64(english_text, cell, layers, B, loss):
    _torch()
    module = MODULES[cell]
    K, X, Y = _windows(english_text, B)
    params, state = _model(cell, K, 10, layers, B, seed=layers + B)
    value, analytic, _ = module.loss_and_grads(params, X, Y, state, loss)
    torch_value, oracle = torch_cells.torch_loss_and_grads(cell, params, X, Y, state, loss)
    assert torch_value == pytest.approx(value, rel=1e-13)
    assert list(oracle) == list(params)
    for name in params:
        assert oracle[name].shape == params[name].shape and oracle[name].dtype == np.float64
        max_rel, _ = gradcheck.relative_errors(analytic[name], oracle[name])
        assert max_rel < 1e-10, (name, max_rel)


@CELLS
def test_pytorch_sees_a_wrong_gradient(english_text, cell):
    _torch()
    K, X, Y = _windows(english_text, 1)
    params, state = _model(cell, K, 4, 1, 1, seed=0)
    _, analytic, _ = MODULES[cell].loss_and_grads(params, X, Y, state)
    _, oracle = torch_cells.torch_loss_and_grads(cell, params, X, Y, state)
    analytic["W1"][K + 1, 0] += 1e-6                              # one recurrent weight's gradient, off
    assert gradcheck.relative_errors(analytic["W1"], oracle["W1"])[0] > 1e-8


def test_the_oracle_module_imports_without_torch():
    code = "import sys; sys.modules['torch'] = None; import lib.torch_cells"   # None: import torch fails
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
