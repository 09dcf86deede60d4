"""Analytic gradients of lib.rnn against lib.gradcheck's numerical ones."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lib import gradcheck, rnn, rnn_fast
from lib.text import corpus


def _first_25(text):
    vocab = corpus.build_vocab(text)
    data = corpus.encode(text, vocab)
    return len(vocab), data[:25], data[1:26]


# The m=100 check runs ~60k forward passes of 100x100 matrix-vector products.
# Multithreaded OpenBLAS makes each of those several times slower when the
# cores are busy (41 s against 7 s measured on 2 loaded cores), and its thread
# count cannot be changed once numpy is loaded, so the check runs in a child
# process with one BLAS thread.
_CHECK_SCRIPT = """
import json, sys
import numpy as np
from lib import gradcheck, rnn
from lib.text import corpus
job = json.load(sys.stdin)
vocab = corpus.build_vocab(job["text"])
data = corpus.encode(job["text"], vocab)
m = job["m"]
params = rnn.init_params(len(vocab), m, 0.01, np.random.default_rng(job["seed"]))
table = gradcheck.gradient_check(params, data[:25], data[1:26], np.zeros(m))
json.dump(table, sys.stdout)
"""


def _gradient_check_single_thread(text, m, seed):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", _CHECK_SCRIPT], input=json.dumps(
        {"text": text, "m": m, "seed": seed}), capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("m", [3, 100])
def test_gradient_check_course_setting(english_text, m):
    # First 25 characters, the paragraph's vocabulary, init_params with sigma=0.01, h0=0.
    table = _gradient_check_single_thread(english_text, m, seed=2024 + m)
    assert set(table) == set(rnn.PARAM_NAMES)
    for name in rnn.PARAM_NAMES:
        row = table[name]
        assert row["complex_max_rel"] < 1e-10, (name, row)
        assert row["central_norm_rel"] < 1e-6, (name, row)


def test_gradient_check_larger_weights_and_nonzero_state(english_text):
    # Away from the near-linear regime of sigma=0.01: saturating units, nonzero
    # biases and a nonzero starting hidden state exercise every backward path.
    m = 6
    K, x, y = _first_25(english_text)
    rng = np.random.default_rng(7)
    params = rnn.init_params(K, m, 0.5, rng)
    params["b"] = rng.normal(0, 0.5, m)
    params["c"] = rng.normal(0, 0.5, K)
    h0 = rng.uniform(-0.9, 0.9, m)
    table = gradcheck.gradient_check(params, x, y, h0)
    for name in rnn.PARAM_NAMES:
        assert table[name]["complex_max_rel"] < 1e-10, (name, table[name])
        assert table[name]["central_norm_rel"] < 1e-6, (name, table[name])


def test_numerical_gradients_agree_with_each_other(english_text):
    m = 4
    K, x, y = _first_25(english_text)
    params = rnn.init_params(K, m, 0.2, np.random.default_rng(1))
    central = gradcheck.central_difference_grads(params, x, y, np.zeros(m))
    complex_ = gradcheck.complex_step_grads(params, x, y, np.zeros(m))
    for name in rnn.PARAM_NAMES:
        assert central[name].shape == params[name].shape
        np.testing.assert_allclose(central[name], complex_[name], rtol=1e-5, atol=1e-8, err_msg=name)
    # Columns of U for characters absent from x get exactly zero gradient.
    absent = sorted(set(range(K)) - set(x.tolist()))
    assert absent
    assert not complex_["U"][:, absent].any()


def test_gradient_check_detects_a_wrong_gradient(english_text, monkeypatch):
    m = 3
    K, x, y = _first_25(english_text)
    params = rnn.init_params(K, m, 0.1, np.random.default_rng(0))
    real_backward = rnn.backward  # the file the check names, lib/rnn.py

    def broken_backward(*args, **kwargs):
        grads = real_backward(*args, **kwargs)
        grads["W"] *= 1.001  # a 0.1 % error in one parameter
        return grads

    monkeypatch.setattr(rnn, "backward", broken_backward)
    table = gradcheck.gradient_check(params, x, y, np.zeros(m), with_torch=False)
    assert table["W"]["complex_max_rel"] > 1e-5
    assert table["W"]["central_norm_rel"] > 1e-5
    assert table["W"]["fast_max_rel"] > 1e-5  # the fast path, right, now disagrees with the broken file
    for name in ("b", "c", "U", "V"):
        assert table[name]["complex_max_rel"] < 1e-10
    assert not gradcheck.verdict({"sum": {str(m): table}})["passed"]


def test_a_wrong_fast_path_fails_the_check(english_text, monkeypatch):
    K, x, y = _first_25(english_text)
    params = rnn.init_params(K, 3, 0.1, np.random.default_rng(0))
    real_backward = rnn_fast.backward

    def broken_backward(*args, **kwargs):
        grads = real_backward(*args, **kwargs)
        grads["c"] *= 1 + 1e-7
        return grads

    monkeypatch.setattr(rnn_fast, "backward", broken_backward)
    table = gradcheck.gradient_check(params, x, y, np.zeros(3), with_torch=False)
    assert table["c"]["fast_max_rel"] > 1e-9 and table["c"]["complex_max_rel"] < 1e-10
    verdict = gradcheck.verdict({"sum": {"3": table}})
    assert not verdict["passed"] and "fast path (lib/rnn_fast.py), max elementwise: worst" in verdict["text"]


# ---------------------------------------------------------------- PyTorch as an oracle
# The PyTorch extra is optional for users, but CI installs it: there a missing torch fails these
# tests instead of skipping them (a skipped oracle is not a passed one).

def _torch():
    if not gradcheck.torch_available():
        if os.environ.get("CI"):
            pytest.fail("PyTorch is not installed, and CI must run the PyTorch checks (.ci/run installs it)")
        pytest.skip(gradcheck.TORCH_MISSING)
    import torch

    return torch


@pytest.mark.parametrize("loss", ["sum", "mean"])
@pytest.mark.parametrize("m", [10, 100])
def test_pytorch_autograd_agrees_with_lib_rnn_in_float64(english_text, loss, m):
    """The handout's check (m = 10, seq_length = 25) and the course's m = 100, nonzero state and biases."""
    _torch()
    K, x, y = _first_25(english_text)
    rng = np.random.default_rng(m)
    params = rnn.init_params(K, m, rng=rng, init="scaled")
    params["b"], params["c"] = rng.normal(0, 0.3, m), rng.normal(0, 0.3, K)
    h0 = rng.uniform(-0.5, 0.5, m)
    value, analytic, _ = rnn.loss_and_grads(params, x, y, h0, loss)
    torch_value, oracle = gradcheck.torch_loss_and_grads(params, x, y, h0, loss)
    assert torch_value == pytest.approx(value, rel=1e-13)
    for name in rnn.PARAM_NAMES:
        max_rel, _ = gradcheck.relative_errors(analytic[name], oracle[name])
        assert max_rel < 1e-10, (name, max_rel)
        assert oracle[name].dtype == np.float64
    table = gradcheck.gradient_check(params, x, y, h0, loss=loss) if m == 10 else None
    if table is not None:
        assert all(table[name]["torch_max_rel"] < 1e-10 for name in rnn.PARAM_NAMES)


def test_pytorch_sees_a_wrong_gradient(english_text, monkeypatch):
    _torch()
    K, x, y = _first_25(english_text)
    params = rnn.init_params(K, 4, 0.1, np.random.default_rng(3))
    real_backward = rnn.backward

    def broken_backward(*args, **kwargs):
        grads = real_backward(*args, **kwargs)
        grads["V"][0, 0] += 1e-6
        return grads

    monkeypatch.setattr(rnn, "backward", broken_backward)
    table = gradcheck.gradient_check(params, x, y, np.zeros(4), with_torch=True)
    assert table["V"]["torch_max_rel"] > 1e-8


def test_without_pytorch_the_check_runs_and_says_how_to_add_it(english_text, monkeypatch):
    monkeypatch.setattr(gradcheck, "torch_available", lambda: False)
    results = gradcheck.check_on_text(english_text, [3], losses=["sum", "mean"])
    assert gradcheck.oracles(results) == ["central", "complex", "fast"]
    assert gradcheck.verdict(results)["passed"]
    assert "PyTorch" not in gradcheck.markdown_table(results)
    assert "pip install 'char-rnn-notebooks[torch]'" in gradcheck.TORCH_MISSING


def test_relative_errors():
    a = np.array([1.0, 0.0, -2.0])
    assert gradcheck.relative_errors(a, a) == (0.0, 0.0)
    max_rel, norm_rel = gradcheck.relative_errors(a, np.array([1.0, 0.0, -2.2]))
    assert max_rel == pytest.approx(0.2 / 4.2)
    assert norm_rel == pytest.approx(0.2 / (np.sqrt(5) + np.sqrt(1 + 4.84)))
    # Both zero: no division by zero, error 0.
    assert gradcheck.relative_errors(np.zeros(3), np.zeros(3)) == (0.0, 0.0)


@pytest.mark.parametrize("h, cause", [
    (1e-300, "central differences are 0 for every entry: h is too small for them"),
    (0.5, "h is too small for central differences (their round-off"),
])
def test_a_central_step_that_fails_is_named_while_the_complex_step_agrees(english_text, h, cause):
    """-p h 1e-300 said only "failed" while the complex step showed the gradients right (issue 25, case 14)."""
    results = gradcheck.check_on_text(english_text, m_values=[3], seq_length=10, h=h)
    verdict = gradcheck.verdict(results)
    assert not verdict["passed"]
    last = verdict["text"].splitlines()[-1]
    assert last.startswith("the complex step agrees, so the analytic gradients are right; " + cause), last
    good = gradcheck.verdict(gradcheck.check_on_text(english_text, m_values=[3], seq_length=10))
    assert good["passed"] and "complex step agrees" not in good["text"]
