"""lib.training.train: AdaGrad, the walk over the text, best model, determinism, validation,
bad settings and divergence."""

import math
import re

import numpy as np
import pytest

from lib import rnn, rnn_fast
from lib.text import corpus
from lib.training import checkpoint, train

TINY_TEXT = "the cat sat on the mat; a dog ran far away, and then it came back.\n"


# ------------------------------------------------------------------- AdaGrad

def test_adagrad_step_against_hand_computation():
    eta, eps = 0.1, 1e-8
    theta0 = np.array([0.5, -1.0, 2.0, 0.0, 3.0, -0.25])
    g1 = np.array([0.3, -7.0, 5.0, 12.5, -5.0000001, 0.0])
    g2 = np.array([-1.0, 2.0, -9.0, 0.5, 4.0, 6.0])

    theta, M = theta0.copy(), np.zeros(6)
    grad = g1.copy()
    rnn_fast.adagrad_step(theta, grad, M, eta)
    c1 = [0.3, -5.0, 5.0, 5.0, -5.0, 0.0]  # clipped by hand
    M1 = [c * c for c in c1]
    t1 = [t - eta * c / math.sqrt(mm + eps) for t, c, mm in zip(theta0, c1, M1)]
    assert grad.tolist() == c1  # the gradient is clipped in place
    assert M.tolist() == M1
    np.testing.assert_allclose(theta, t1, rtol=1e-15, atol=0)

    grad = g2.copy()
    work = np.empty(6)
    rnn_fast.adagrad_step(theta, grad, M, eta, work)  # with a scratch array this time
    c2 = [-1.0, 2.0, -5.0, 0.5, 4.0, 5.0]
    M2 = [a + c * c for a, c in zip(M1, c2)]
    t2 = [t - eta * c / math.sqrt(mm + eps) for t, c, mm in zip(t1, c2, M2)]
    assert M.tolist() == M2
    np.testing.assert_allclose(theta, t2, rtol=1e-15, atol=0)
    assert np.all(np.isfinite(theta))


@pytest.mark.parametrize("clip", [5.0, 0.1, 1 / 3, 1e-3])
def test_adagrad_clips_one_ulp_beyond_the_bound(clip):
    """The step clips only when some gradient passes the bound, judged by the largest square:
    one ulp beyond it must still be caught, for bounds whose square is inexact too."""
    above = np.nextafter(clip, np.inf)
    grad = np.array([above, -above, clip, -clip, 0.0, clip / 2])
    theta, M = np.zeros(6), np.zeros(6)
    rnn_fast.adagrad_step(theta, grad, M, 0.1, clip=clip)
    assert grad.tolist() == [clip, -clip, clip, -clip, 0.0, clip / 2]
    assert M.tolist() == [g * g for g in grad.tolist()]
    inside = np.array([np.nextafter(clip, 0.0), -clip, 0.0])
    kept = inside.copy()
    rnn_fast.adagrad_step(np.zeros(3), inside, np.zeros(3), 0.1, clip=clip)
    assert inside.tolist() == kept.tolist()  # nothing passed the bound: nothing changed


def test_adagrad_zero_gradient_is_finite_and_still():
    theta, M = np.array([1.5, -2.0]), np.zeros(2)
    rnn_fast.adagrad_step(theta, np.zeros(2), M, 0.1)  # 0 / sqrt(0 + eps) = 0, no NaN
    assert theta.tolist() == [1.5, -2.0] and M.tolist() == [0.0, 0.0]


def test_adagrad_first_step_moves_by_eta():
    theta, M = np.zeros(4), np.zeros(4)
    rnn_fast.adagrad_step(theta, np.array([0.1, -2.0, 40.0, 0.5]), M, 0.25)
    np.testing.assert_allclose(theta, [-0.25, 0.25, -0.25, -0.25], rtol=1e-6)


def test_flat_views_cover_buffer_in_order():
    shapes = rnn.param_shapes(3, 2)
    flat = rnn_fast.flat_buffer(shapes)
    flat[:] = np.arange(flat.size)
    views = rnn_fast.flat_views(flat, shapes)
    assert list(views) == list(shapes)
    # In order, each on a 64-byte boundary (8 float64s): b at 0, c at 8, U at 16, W at 24, V at 32.
    assert views["b"].tolist() == [0, 1]
    assert views["c"].tolist() == [8, 9, 10]
    assert views["U"].tolist() == [[16, 17, 18], [19, 20, 21]]
    assert views["V"].shape == (3, 2) and views["V"].ravel().tolist() == list(range(32, 38))
    assert flat.size == 40
    for name, view in views.items():
        assert np.shares_memory(view, flat) and view.ctypes.data % 64 == 0, name
    views["W"][...] = -1
    assert flat[24:28].tolist() == [-1] * 4
    with pytest.raises(ValueError, match="40 elements"):
        rnn_fast.flat_views(np.zeros(21), shapes)


# ------------------------------------------------ the epoch walk and h reset

def _hand_train(text, m, eta, seq_length, sigma, seed, epochs, reset="epoch"):
    """The course protocol written out step by step: the training path's gradients, lib.rnn's AdaGrad.

    reset: "epoch" (the protocol), "never" or "chunk" (deliberately wrong variants).
    """
    vocab = corpus.build_vocab(text)
    data = corpus.encode(text, vocab)
    init_seq, _ = np.random.SeedSequence(seed).spawn(2)  # train()'s documented seeding
    params = rnn.init_params(len(vocab), m, sigma, np.random.default_rng(init_seq))
    M = {k: np.zeros_like(v) for k, v in params.items()}
    history = {"step": [], "epoch": [], "loss": [], "smooth_loss": []}
    epoch_starts, step, smooth, h = [], 0, None, np.zeros(m)
    for epoch in range(1, epochs + 1):
        epoch_starts.append(step)
        if reset == "epoch":
            h = np.zeros(m)
        e = 0
        while e + seq_length + 1 <= len(data):
            if reset == "chunk":
                h = np.zeros(m)
            loss, grads, h = rnn_fast.loss_and_grads(params, data[e:e + seq_length],
                                                     data[e + 1:e + seq_length + 1], h)
            rnn.adagrad_step(params, grads, M, eta)  # the course's AdaGrad, one parameter at a time
            step += 1
            smooth = loss if smooth is None else 0.999 * smooth + 0.001 * loss
            for key, value in (("step", step), ("epoch", epoch), ("loss", loss), ("smooth_loss", smooth)):
                history[key].append(value)
            e += seq_length
    return params, history, epoch_starts, h


def test_steps_per_epoch():
    assert train.steps_per_epoch(26, 25) == 1
    assert train.steps_per_epoch(50, 25) == 1
    assert train.steps_per_epoch(51, 25) == 2
    assert train.steps_per_epoch(68, 7) == 9
    assert train.steps_per_epoch(1_100_000, 25) == 43_999


def test_epoch_walk_matches_hand_reproduction():
    text = TINY_TEXT
    settings = dict(m=6, eta=0.1, seq_length=7, sigma=0.05, seed=3)
    per_epoch = train.steps_per_epoch(len(text), 7)
    assert per_epoch == (len(text) - 1) // 7 == 9
    assert (len(text) - 1) % 7 != 0  # some characters are left over at the end of each epoch

    events = []
    state = train.train(text, epochs=2, max_steps=None, log_every=1, synth_every=10_000,
                        on_event=events.append, **settings)
    assert state["step"] == 2 * per_epoch
    assert state["epoch"] == 2
    assert state["epoch_starts"] == [0, per_epoch]
    assert [e["step"] for e in events if e["kind"] == "epoch"] == [per_epoch]
    assert [e["epoch"] for e in events if e["kind"] == "epoch"] == [2]

    params, history, epoch_starts, h = _hand_train(text, epochs=2, **settings)
    assert epoch_starts == state["epoch_starts"]
    for name in rnn.PARAM_NAMES:
        assert params[name].tobytes() == state["params"][name].tobytes(), name
    assert state["h_prev"].tobytes() == h.tobytes()
    for key in ("step", "epoch", "loss", "smooth_loss"):
        assert state["history"][key] == history[key], key
    assert history["smooth_loss"][0] == history["loss"][0]
    assert all(math.isnan(v) for v in state["history"]["val_bpc"])
    assert state["smooth_loss"] == history["smooth_loss"][-1]

    # The comparison is sensitive to where h is reset: both wrong variants differ.
    for wrong in ("never", "chunk"):
        other, _, _, _ = _hand_train(text, epochs=2, reset=wrong, **settings)
        assert not np.array_equal(other["W"], state["params"]["W"]), wrong


def test_max_steps_stops_mid_epoch():
    state = train.train(TINY_TEXT, m=4, seq_length=7, epochs=5, max_steps=13, log_every=1,
                        synth_every=10_000)
    assert state["step"] == 13 and state["history"]["step"] == list(range(1, 14))
    assert state["epoch"] == 2 and state["epoch_starts"] == [0, 9]
    assert state["chunk"] == 4  # 4 chunks of 7 into the second epoch
    assert state["total_steps"] == 13


def test_log_every_and_samples_schedule():
    events = []
    state = train.train(TINY_TEXT, m=4, seq_length=7, epochs=3, log_every=4, synth_every=10,
                        synth_len=12, on_event=events.append)
    assert state["step"] == 27
    assert state["history"]["step"] == [4, 8, 12, 16, 20, 24]
    assert [s["step"] for s in state["samples"]] == [0, 10, 20]
    assert state["samples"][0]["smooth_loss"] is None
    vocab = corpus.build_vocab(TINY_TEXT)
    for sample in state["samples"]:
        assert len(sample["text"]) == 12 and set(sample["text"]) <= set(vocab)
    assert [e["step"] for e in events if e["kind"] == "log"] == [4, 8, 12, 16, 20, 24]
    assert [e["step"] for e in events if e["kind"] == "sample"] == [0, 10, 20]
    assert state["vocab_list"] == vocab
    assert state["timing"]["steps_this_session"] == 27


# ------------------------------------------------------------------ best model

def test_best_model_is_argmin_of_smooth_loss():
    # 20 chunks of 'a' (easy) then 20 chunks of random letters (hard): the smooth
    # loss falls, then rises, so its minimum is inside the run, not at an end.
    rng = np.random.default_rng(0)
    text = "a" * 200 + "".join(rng.choice(list("bcdefghijklmnopqrstuvwxyz"), 200))
    settings = dict(m=10, eta=0.3, seq_length=10, seed=0, log_every=1, synth_every=10_000)
    state = train.train(text, epochs=3, **settings)
    smooth = np.array(state["history"]["smooth_loss"])
    assert state["history"]["step"] == list(range(1, state["step"] + 1))
    best = int(np.argmin(smooth)) + 1
    assert 1 < best < state["step"]  # the setup really has an interior minimum
    assert state["best_step"] == best
    assert state["best_smooth_loss"] == smooth.min()
    assert not np.array_equal(state["best_params"]["W"], state["params"]["W"])

    rerun = train.train(text, epochs=3, max_steps=best, **settings)
    assert rerun["step"] == best
    for name in rnn.PARAM_NAMES:
        assert rerun["params"][name].tobytes() == state["best_params"][name].tobytes(), name
        assert rerun["best_params"][name].tobytes() == state["best_params"][name].tobytes(), name


# ---------------------------------------------------------------- determinism

def test_same_seed_same_run_bitwise(english_text, assert_same_training_run):
    kwargs = dict(m=12, eta=0.1, seq_length=15, seed=5, epochs=2, log_every=3, synth_every=17,
                  synth_len=30, val_fraction=0.2, eval_every=9)
    a = train.train(english_text, **kwargs)
    b = train.train(english_text, **kwargs)
    assert_same_training_run(a, b)
    c = train.train(english_text, **dict(kwargs, seed=6))
    assert not np.array_equal(a["params"]["W"], c["params"]["W"])
    assert a["samples"] != c["samples"]


def test_synth_every_does_not_change_weights(english_text, assert_same_training_run):
    kwargs = dict(m=12, eta=0.1, seq_length=15, seed=5, epochs=2, log_every=1, synth_len=25)
    many = train.train(english_text, synth_every=3, **kwargs)
    few = train.train(english_text, synth_every=1000, **kwargs)
    assert len(many["samples"]) > 10 and len(few["samples"]) == 1
    assert many["samples"][0] == few["samples"][0]  # the step-0 draw is the same
    assert_same_training_run(many, few, check_samples=False)


# ------------------------------------------------------------- validation tail

def test_validation_tail(english_text):
    K = len(set(english_text))
    kwargs = dict(m=10, eta=0.1, seq_length=10, seed=1, val_fraction=0.2, eval_every=5,
                  log_every=2, synth_every=10_000)
    events = []
    state = train.train(english_text, epochs=1, on_event=events.append, **kwargs)
    split = len(english_text) - round(0.2 * len(english_text))
    assert state["n_train"] == split
    assert state["step"] == train.steps_per_epoch(split, 10) == (split - 1) // 10

    steps = state["history"]["step"]
    assert steps == [s for s in range(1, state["step"] + 1) if s % 2 == 0 or s % 5 == 0]
    val = dict(zip(steps, state["history"]["val_bpc"]))
    for step, value in val.items():
        if step % 5 == 0:
            assert math.isfinite(value) and value > 0, step
        else:
            assert math.isnan(value), step
    assert [e["step"] for e in events if e["kind"] == "eval"] == [s for s in steps if s % 5 == 0]
    # Near-uniform predictions at the start: about log2(K) bits per character.
    assert abs(val[5] / math.log2(K) - 1) < 0.1, (val[5], math.log2(K))

    # The recorded value is bits_per_char of the held-out tail under the step-5 parameters.
    at5 = train.train(english_text, epochs=1, max_steps=5, **kwargs)
    data = corpus.encode(english_text, corpus.build_vocab(english_text))
    direct = train.bits_per_char(at5["params"], data[split:])
    assert direct == val[5]
    # bits_per_char carries h over its internal chunks: chunking does not change it.
    assert train.bits_per_char(at5["params"], data[split:], chunk=7) == pytest.approx(direct, rel=1e-12)


def test_no_validation_records_nan(english_text):
    state = train.train(english_text, m=5, seq_length=10, epochs=1, log_every=5, eval_every=5,
                        synth_every=10_000)
    assert state["n_train"] == len(english_text)
    assert all(math.isnan(v) for v in state["history"]["val_bpc"])


def test_bits_per_char_of_uniform_model():
    K, m = 16, 3
    params = {"b": np.zeros(m), "c": np.zeros(K), "U": np.zeros((m, K)), "W": np.zeros((m, m)),
              "V": np.zeros((K, m))}
    data = np.arange(50) % K
    assert train.bits_per_char(params, data) == pytest.approx(4.0, rel=1e-12)


# ------------------------------------------------------------------ bad input

def test_text_shorter_than_seq_length_plus_one():
    with pytest.raises(corpus.CorpusError, match="seq_length") as info:
        train.train("abcdefghij", seq_length=10)
    assert "10 characters" in str(info.value)
    train.train("abcdefghijk", m=3, seq_length=10, epochs=1)  # 11 characters is enough


@pytest.mark.parametrize("text", ["", None, b"bytes text here for you"])
def test_empty_or_non_string_text(text):
    with pytest.raises(corpus.CorpusError, match="text"):
        train.train(text)


@pytest.mark.parametrize("name", ["m", "seq_length", "epochs", "log_every", "synth_every",
                                  "synth_len", "eval_every", "checkpoint_every", "max_steps"])
@pytest.mark.parametrize("value", [0, -1, 2.5, True, "10"])
def test_positive_integer_settings(english_text, name, value):
    with pytest.raises(train.ConfigError, match=rf"^{name} must be a positive integer") as info:
        train.train(english_text, **{name: value})
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("name", ["eta", "sigma"])
@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), -float("inf"), True, "0.1"])
def test_positive_finite_settings(english_text, name, value):
    with pytest.raises(train.ConfigError, match=rf"^{name} must be a positive finite number"):
        train.train(english_text, **{name: value})


@pytest.mark.parametrize("value", [-1, 1.5, True, "3"])
def test_bad_seed(english_text, value):
    with pytest.raises(train.ConfigError, match="seed"):
        train.train(english_text, seed=value)


@pytest.mark.parametrize("value", [-0.1, 1.0, 2, float("nan")])
def test_val_fraction_outside_range(english_text, value):
    with pytest.raises(train.ConfigError, match=r"^val_fraction must be a number in \[0, 1\)"):
        train.train(english_text, val_fraction=value)


@pytest.mark.parametrize("value, side", [(0.03, "held-out"), (0.97, "training")])
def test_val_fraction_leaves_too_little(english_text, value, side):
    with pytest.raises(corpus.CorpusError, match="val_fraction") as info:
        train.train(english_text, seq_length=25, val_fraction=value)
    assert side in str(info.value)


def test_config_error_is_a_value_error():
    assert issubclass(train.ConfigError, ValueError)
    assert not issubclass(train.TrainingDiverged, ValueError)


# ----------------------------------------------------------------- divergence

def test_divergence_names_step_and_keeps_last_good_checkpoint(english_text, tmp_path):
    # AdaGrad moves each weight by up to eta per step; eta=70 on m=5 sends the
    # logits so far apart within a few steps that a target's probability underflows
    # to 0 and the loss becomes inf.
    out = tmp_path / "run"
    snapshots = {}

    def on_event(event):
        if event["kind"] == "checkpoint":
            snapshots[event["step"]] = ((out / "last.npz").read_bytes(), (out / "best.npz").read_bytes())

    with np.errstate(all="ignore"), pytest.raises(train.TrainingDiverged) as info:
        train.train(english_text, out, m=5, eta=70.0, seq_length=10, seed=1, epochs=20,
                    checkpoint_every=2, log_every=1, on_event=on_event)
    message = str(info.value)
    step = int(re.search(r"at step (\d+)", message).group(1))
    assert re.search(r"loss became (inf|nan)", message)
    assert step >= 4, "the setup should diverge after a couple of checkpoints"
    last_good = max(snapshots)
    assert last_good == 2 * ((step - 1) // 2)  # every checkpoint before the bad step was written
    assert str(out / "last.npz") in message and "kept" in message
    last_bytes, best_bytes = snapshots[last_good]
    assert (out / "last.npz").read_bytes() == last_bytes
    assert (out / "best.npz").read_bytes() == best_bytes

    # The kept checkpoint holds finite parameters from the last good step.
    vocab = corpus.build_vocab(english_text)
    params, _, _ = checkpoint.load_model(out / "last.npz")
    assert all(np.all(np.isfinite(v)) for v in params.values())
    settings = dict(m=5, eta=70.0, seq_length=10, sigma=0.01, seed=1, val_fraction=0.0, log_every=1,
                    synth_every=10_000, synth_len=200, eval_every=10_000)
    kept = checkpoint.load_state(out / "last.npz", vocab, train.text_sha256(english_text), settings)
    assert kept["step"] == last_good
    assert not list(out.glob("*.tmp"))


def test_divergence_without_out_dir(english_text):
    with np.errstate(all="ignore"), pytest.raises(train.TrainingDiverged, match=r"step \d+") as info:
        train.train(english_text, m=5, eta=1000.0, seq_length=10, seed=0, epochs=5)
    assert "no checkpoint" in str(info.value)
