"""The 2026 handout's pieces (Adam, the mean loss, the scaled initialisation) and the protocols as
settings: each protocol's values, an explicit override, and bad values named in one line."""

import math

import numpy as np
import pytest

from lib import checks, gradcheck, rnn, rnn_fast
from lib.text import corpus
from lib.training import runner, train
from lib.training import settings as table
from lib import paths
from tests.toy_run import TOY


def toy_plan(text_file, out, **extra):
    """runner.plan of a toy run of text_file (out None: the default folder under paths.RUNS_DIR)."""
    return runner.plan(**dict(dict(data_path=str(text_file), out_dir=None if out is None else str(out), **TOY),
                              **extra))


# ------------------------------------------------------------------- Adam

def _adam_by_hand(theta, grads, eta, beta1, beta2, eps):
    """The handout's equations, one float at a time, for a list of gradients (t = 1, 2, ...)."""
    theta, m, v, path = list(theta), [0.0] * len(theta), [0.0] * len(theta), []
    for t, g in enumerate(grads, start=1):
        for i, gi in enumerate(g):
            m[i] = beta1 * m[i] + (1 - beta1) * gi
            v[i] = beta2 * v[i] + (1 - beta2) * gi ** 2
            m_hat = m[i] / (1 - beta1 ** t)
            v_hat = v[i] / (1 - beta2 ** t)
            theta[i] -= eta * m_hat / (math.sqrt(v_hat) + eps)
        path.append(list(theta))
    return path


@pytest.mark.parametrize("path", ["plain", "fast"])
def test_adam_follows_the_equations_over_several_updates(path):
    """Bias correction at t = 1, 2, 3, 4: the update of each path against the equations by hand."""
    rng = np.random.default_rng(0)
    theta0 = rng.standard_normal(7)
    grads = [rng.standard_normal(7) * scale for scale in (1.0, 0.01, 30.0, 1.0)]
    eta, beta1, beta2, eps = 0.001, 0.9, 0.999, 1e-8
    expected = _adam_by_hand(theta0, grads, eta, beta1, beta2, eps)
    theta, first, second = theta0.copy(), np.zeros(7), np.zeros(7)
    for t, (g, want) in enumerate(zip(grads, expected), start=1):
        if path == "plain":
            params, moments = {"b": theta}, ({"b": first}, {"b": second})
            for name in rnn.PARAM_NAMES[1:]:  # adam_step walks every parameter: give the others zeros
                params[name] = np.zeros(1)
                moments[0][name], moments[1][name] = np.zeros(1), np.zeros(1)
            rnn.adam_step(params, dict({n: np.zeros(1) for n in rnn.PARAM_NAMES}, b=g.copy()), *moments, t,
                          eta, beta1, beta2, eps)
        else:
            rnn_fast.adam_step(theta, g.copy(), first, second, t, eta, beta1, beta2, eps)
        np.testing.assert_allclose(theta, want, rtol=1e-13, atol=1e-16)
    # The first update moves every parameter by about eta (m_hat / sqrt(v_hat) = sign(g)).
    first_move = np.abs(np.array(expected[0]) - theta0)
    np.testing.assert_allclose(first_move, eta, rtol=1e-4)


def test_adam_clips_when_asked_and_not_otherwise():
    g = np.array([10.0, -0.5])
    for clip, seen in ((None, [10.0, -0.5]), (1.0, [1.0, -0.5])):
        theta, first, second, grad = np.zeros(2), np.zeros(2), np.zeros(2), g.copy()
        rnn_fast.adam_step(theta, grad, first, second, 1, 0.001, clip=clip)
        np.testing.assert_allclose(first, 0.1 * np.array(seen))


# ------------------------------------------------------------------- the mean loss

@pytest.mark.parametrize("path", [rnn, rnn_fast], ids=["plain", "fast"])
def test_the_mean_loss_and_its_gradients_are_the_sums_divided_by_the_length(english_text, path):
    vocab = corpus.build_vocab(english_text)
    data = corpus.encode(english_text, vocab)
    params = rnn.init_params(len(vocab), 9, 0.1, np.random.default_rng(1))
    x, y, h0 = data[:25], data[1:26], np.random.default_rng(2).standard_normal(9) * 0.1
    total, grads_sum, h_sum = path.loss_and_grads(params, x, y, h0, loss="sum")
    mean, grads_mean, h_mean = path.loss_and_grads(params, x, y, h0, loss="mean")
    assert mean == pytest.approx(total / 25, rel=1e-14)
    assert h_mean.tobytes() == h_sum.tobytes()
    for name in rnn.PARAM_NAMES:
        np.testing.assert_allclose(grads_mean[name], grads_sum[name] / 25, rtol=1e-12, atol=1e-15, err_msg=name)
    # and they are the gradients of the mean: the complex step of the mean loss agrees entry by entry
    exact = gradcheck.complex_step_grads(params, x, y, h0, loss="mean")
    for name in rnn.PARAM_NAMES:
        np.testing.assert_allclose(grads_mean[name], exact[name], rtol=1e-9, atol=1e-14, err_msg=name)


def test_an_unknown_loss_unit_is_refused():
    params = rnn.init_params(3, 2, 0.1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="loss must be one of 'sum', 'mean', got 'max'"):
        rnn.loss_and_grads(params, [0, 1], [1, 2], np.zeros(2), loss="max")


# ------------------------------------------------------------------- scaled initialisation

def test_scaled_initialisation_has_the_handouts_standard_deviations():
    K, m = 400, 800
    params = rnn.init_params(K, m, rng=np.random.default_rng(3), init="scaled")
    assert not params["b"].any() and not params["c"].any()
    for name, std in (("U", 1 / math.sqrt(2 * K)), ("W", 1 / math.sqrt(2 * m)), ("V", 1 / math.sqrt(m))):
        assert params[name].std() == pytest.approx(std, rel=0.01), name
        assert abs(params[name].mean()) < 0.01 * std, name


def test_the_normal_initialisation_is_drawn_as_before():
    """init="normal" draws U, W, V in that order with sigma: the 2021 runs' weights, bitwise."""
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    params = rnn.init_params(6, 4, 0.01, rng_a)
    assert params["U"].tobytes() == (0.01 * rng_b.standard_normal((4, 6))).tobytes()
    assert params["W"].tobytes() == (0.01 * rng_b.standard_normal((4, 4))).tobytes()
    assert params["V"].tobytes() == (0.01 * rng_b.standard_normal((6, 4))).tobytes()


# ------------------------------------------------------------------- protocols as settings

def test_each_protocol_sets_its_handouts_values():
    for protocol, expected in (("2021", dict(m=100, eta=0.1, seq_length=25, optimizer="adagrad", loss="sum",
                                             init="normal", sigma=0.01, clip=5.0, beta1=None, beta2=None)),
                               ("2026", dict(m=100, eta=0.001, seq_length=25, optimizer="adam", loss="mean",
                                             init="scaled", sigma=None, clip=None, beta1=0.9, beta2=0.999))):
        resolved, overrides = table.resolve(protocol)
        assert {k: resolved[k] for k in expected} == expected, protocol
        assert overrides == [] and resolved["protocol"] == protocol and resolved["eps"] == 1e-8


def test_an_explicit_setting_overrides_its_protocol_and_is_named():
    resolved, overrides = table.resolve("2026", eta=0.002, clip=5.0)
    assert resolved["eta"] == 0.002 and resolved["clip"] == 5.0 and resolved["optimizer"] == "adam"
    assert overrides == ["eta", "clip"]
    assert table.differing(resolved) == [("eta", 0.002), ("clip", 5.0)]
    # the protocol's own value given explicitly is no difference
    assert table.resolve("2021", eta=0.1)[1] == []
    # in the notebook, None takes the protocol's clip and False turns it off
    p = dict(runner.DEFAULTS, protocol="2021")
    assert runner.resolve(p)[0]["clip"] == 5.0
    assert runner.resolve(dict(p, clip=False))[0]["clip"] is None


def test_train_records_the_protocol_and_trains_by_it(english_text):
    state = train.train(english_text, protocol="2026", m=8, epochs=5, max_steps=30, log_every=1, synth_every=1000)
    settings = state["settings"]
    assert settings["protocol"] == "2026" and settings["optimizer"] == "adam" and settings["loss"] == "mean"
    assert state["step"] == state["optimizer"]["t"] == 30 and sorted(state["optimizer"]["arrays"]) == ["m", "v"]
    # the loss is per character: near log K at the start (a uniform guess), not seq_length times it
    K = len(corpus.build_vocab(english_text))
    assert 0.8 * math.log(K) < state["history"]["loss"][0] < 1.2 * math.log(K)


@pytest.mark.parametrize("name, value, message", [
    ("optimizer", "sgd", "optimizer must be one of 'adagrad', 'adam' (or None: the protocol's), got 'sgd'"),
    ("beta1", 1.0, "beta1 must be a number between 0 and 1, both excluded (or None: Adam's 0.9), got 1.0"),
    ("beta2", 0, "beta2 must be a number between 0 and 1, both excluded (or None: Adam's 0.999), got 0"),
    ("clip", 0, "clip must be a positive number, or False for no clipping (or None: the protocol's), got 0"),
    ("protocol", "2025", "protocol must be one of '2021', '2026', 'gated', got '2025'"),
    ("loss", "max", "loss must be one of 'sum', 'mean' (or None: the protocol's), got 'max'"),
    ("init", "xavier", "init must be one of 'normal', 'scaled' (or None: the protocol's), got 'xavier'"),
    ("eps", -1e-8, "eps must be a positive finite number, got -1e-08"),
])
def test_bad_values_end_in_one_line_naming_the_parameter(text_file, tmp_path, name, value, message):
    with pytest.raises(checks.ParameterError) as caught:
        toy_plan(text_file, tmp_path / "out", **{name: value})
    assert str(caught.value) == message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("given, message", [
    (dict(protocol="2026", sigma=0.1), "sigma=0.1 is the scale of init='normal' weights"),
    (dict(beta1=0.8), "beta1=0.8 is Adam's setting; optimizer is 'adagrad'"),
])
def test_settings_that_do_not_apply_are_refused(text_file, tmp_path, given, message):
    with pytest.raises(checks.ParameterError, match=message):
        toy_plan(text_file, tmp_path / "out", **given)


def test_a_finished_2021_run_asked_with_protocol_2026_trains_a_new_folder(text_file, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "RUNS_DIR", tmp_path / "runs")
    first = runner.execute(toy_plan(text_file, None, max_steps=30), progress=None)
    again = runner.execute(toy_plan(text_file, None, max_steps=30, protocol="2026"), progress=None)
    assert again["action"] == "new" and again["out"] != first["out"]
    assert first["out"].name == "train_30steps_toy_m5_log10_synth50_synthlen20"
    assert again["out"].name == "train_30steps_2026_toy_m5_log10_synth50_synthlen20"
    assert again["summary"]["protocol"] == "2026" and first["summary"]["protocol"] == "2021"
    assert runner.execute(toy_plan(text_file, None, max_steps=30), progress=None)["action"] == "reuse"
