"""lib.rnn and its fast twin lib.rnn_fast: parameter init, the loss_and_grads contract, their agreement, and sampling."""

import numpy as np
import pytest

from lib import gradcheck, rnn, rnn_fast
from lib.text import corpus
from lib.training import parts, train

PATHS = pytest.mark.parametrize("path", [rnn, rnn_fast], ids=["plain", "fast"])


def _setup(text, m, n=25, sigma=0.01, seed=0):
    vocab = corpus.build_vocab(text)
    data = corpus.encode(text, vocab)
    rng = np.random.default_rng(seed)
    params = rnn.init_params(len(vocab), m, sigma, rng)
    return vocab, data[:n], data[1:n + 1], params


def _naive_loss(params, x, y, h0):
    """Per-timestep forward with explicit one-hot vectors, written independently of lib."""
    K = params["c"].shape[0]
    h = np.array(h0, dtype=float)
    total = 0.0
    for xt, yt in zip(x, y):
        onehot = np.zeros(K)
        onehot[xt] = 1.0
        h = np.tanh(params["W"] @ h + params["U"] @ onehot + params["b"])
        o = params["V"] @ h + params["c"]
        p = np.exp(o - o.max())
        p /= p.sum()
        total -= np.log(p[yt])
    return total, h


# ---------------------------------------------------------------- init_params

def test_init_params_shapes_dtype_and_zero_biases():
    params = rnn.init_params(7, 4, 0.01, np.random.default_rng(0))
    assert set(params) == set(rnn.PARAM_NAMES)
    expected = {"b": (4,), "c": (7,), "U": (4, 7), "W": (4, 4), "V": (7, 4)}
    assert rnn.param_shapes(7, 4) == expected
    for name, shape in expected.items():
        assert params[name].shape == shape, name
        assert params[name].dtype == np.float64, name
    assert not params["b"].any()
    assert not params["c"].any()
    for name in ("U", "W", "V"):
        assert np.count_nonzero(params[name]) == params[name].size, name


def test_init_params_std_matches_sigma_for_large_m():
    sigma = 0.03
    params = rnn.init_params(80, 1000, sigma, np.random.default_rng(1))
    for name in ("U", "W", "V"):
        values = params[name]
        assert abs(values.std() / sigma - 1) < 0.02, (name, values.std())
        assert abs(values.mean()) < 0.05 * sigma, (name, values.mean())


def test_init_params_deterministic_for_a_seed():
    a = rnn.init_params(10, 6, 0.01, np.random.default_rng(42))
    b = rnn.init_params(10, 6, 0.01, np.random.default_rng(42))
    c = rnn.init_params(10, 6, 0.01, np.random.default_rng(43))
    for name in rnn.PARAM_NAMES:
        assert a[name].tobytes() == b[name].tobytes(), name
    assert not np.array_equal(a["W"], c["W"])


# ------------------------------------------------------------ loss_and_grads

@PATHS
def test_loss_and_grads_contract(english_text, path):
    m = 8
    vocab, x, y, params = _setup(english_text, m, sigma=0.1, seed=3)
    h0 = np.random.default_rng(4).uniform(-0.5, 0.5, m)
    result = path.loss_and_grads(params, x, y, h0)
    assert isinstance(result, tuple) and len(result) == 3
    loss, grads, h_last = result
    assert type(loss) is float
    assert np.isfinite(loss) and loss > 0
    assert set(grads) == set(params)
    for name in rnn.PARAM_NAMES:
        assert grads[name].shape == params[name].shape, name
        assert grads[name].dtype == np.float64, name
        assert np.all(np.isfinite(grads[name])), name
    assert h_last.shape == (m,)

    # Same numbers as the forward-only pass.
    loss_fwd, h_fwd = path.loss(params, x, y, h0)
    assert loss == float(loss_fwd)
    assert h_last.tobytes() == h_fwd.tobytes()

    # And as an independent per-timestep one-hot implementation.
    loss_naive, h_naive = _naive_loss(params, x, y, h0)
    assert loss == pytest.approx(loss_naive, rel=1e-12)
    np.testing.assert_allclose(h_last, h_naive, rtol=1e-12, atol=1e-14)

    # h_last is a copy, not a view into internal buffers; inputs untouched.
    h_copy = h_last.copy()
    path.loss_and_grads(params, y, x, h0)
    assert h_last.tobytes() == h_copy.tobytes()


@PATHS
def test_loss_and_grads_does_not_modify_inputs(english_text, path):
    _, x, y, params = _setup(english_text, 5, sigma=0.1)
    before = {k: v.copy() for k, v in params.items()}
    h0 = np.full(5, 0.3)
    path.loss_and_grads(params, x, y, h0)
    for name in rnn.PARAM_NAMES:
        assert params[name].tobytes() == before[name].tobytes(), name
    assert np.all(h0 == 0.3)


@PATHS
def test_forward_probabilities_are_normalised(english_text, path):
    _, x, _, params = _setup(english_text, 6, sigma=0.5)
    H, P = path.forward(params, x, np.zeros(6))
    assert H.shape == (len(x) + 1, 6)
    assert P.shape == (len(x), params["c"].shape[0])
    assert np.all(H[0] == 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all(P > 0)


@PATHS
def test_gradients_are_returned_unclipped(path):
    # A text of one repeated character and a large V: the c and V gradients
    # accumulate over all 25 steps, far beyond the clip bound of 5.
    text = "ab" + "a" * 30
    vocab = corpus.build_vocab(text)
    data = corpus.encode(text, vocab)
    x, y = data[2:27], data[3:28]  # all 'a' -> 'a'
    rng = np.random.default_rng(0)
    params = rnn.init_params(len(vocab), 4, 0.01, rng)
    params["U"] = 3.0 * rng.standard_normal(params["U"].shape)  # saturated hidden units
    params["V"] = 10.0 * rng.standard_normal(params["V"].shape)
    params["c"] = np.array([-20.0, 20.0])  # predicts 'b' strongly, target is 'a'
    _, grads, _ = path.loss_and_grads(params, x, y, np.zeros(4))
    biggest = max(np.abs(grads[name]).max() for name in rnn.PARAM_NAMES)
    assert biggest > rnn.GRAD_CLIP * 3, biggest
    assert abs(grads["c"][0]) > 20  # about -25: every target is 'a'
    # And they are the true gradients (not capped anywhere).
    exact = gradcheck.complex_step_grads(params, x, y, np.zeros(4))
    for name in rnn.PARAM_NAMES:
        np.testing.assert_allclose(grads[name], exact[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_preallocated_grads_give_same_numbers(english_text):
    m = 7
    vocab, x, y, params = _setup(english_text, m, sigma=0.2, seed=5)
    h0 = np.linspace(-0.4, 0.4, m)
    loss_a, fresh, h_a = rnn_fast.loss_and_grads(params, x, y, h0)

    # Views of one flat buffer, as the training loop uses, filled with garbage first.
    shapes = rnn.param_shapes(len(vocab), m)
    flat = rnn_fast.flat_buffer(shapes)
    flat[:] = np.nan
    views = rnn_fast.flat_views(flat, shapes)
    loss_b, returned, h_b = rnn_fast.loss_and_grads(params, x, y, h0, grads=views)
    assert returned is views
    for name in rnn.PARAM_NAMES:
        assert returned[name] is views[name]
        assert np.shares_memory(views[name], flat)
        assert views[name].tobytes() == fresh[name].tobytes(), name
    assert loss_a == loss_b
    assert h_a.tobytes() == h_b.tobytes()

    # Plain separate preallocated arrays, too (again dirty to start with).
    dirty = {k: np.full_like(v, 123.0) for k, v in params.items()}
    loss_c, _, _ = rnn_fast.loss_and_grads(params, x, y, h0, grads=dirty)
    assert loss_c == loss_a
    for name in rnn.PARAM_NAMES:
        assert dirty[name].tobytes() == fresh[name].tobytes(), name


def test_a_shared_workspace_gives_the_same_numbers_call_after_call(english_text):
    """The training loop passes one workspace to every call: the numbers must equal fresh
    calls' bit for bit, for shorter sequences than it was made for too (record mode), and
    nothing of an earlier call may leak into a later one."""
    m = 6
    vocab, data, _, params = _setup(english_text, m, n=200, sigma=0.3, seed=3)
    work = rnn_fast.workspace(25, m, len(vocab))
    h = np.zeros(m)
    for start, n in ((0, 25), (25, 7), (32, 25), (57, 1), (58, 25), (90, 13)):
        x, y = data[start:start + n], data[start + 1:start + n + 1]
        loss_f, fresh, h_f = rnn_fast.loss_and_grads(params, x, y, h)
        loss_w, shared, h_w = rnn_fast.loss_and_grads(params, x, y, h, work=work)
        assert loss_w == loss_f and h_w.tobytes() == h_f.tobytes()
        for name in rnn.PARAM_NAMES:
            assert shared[name].tobytes() == fresh[name].tobytes(), (name, start, n)
        assert not np.shares_memory(h_w, work["H"])  # the caller keeps h across calls
        assert not work["onehot"].any()               # left all zeros for the next call
        h = h_w
    # A workspace too short or of another dtype is not used, and nothing fails.
    x, y = data[:40], data[1:41]
    assert rnn_fast.loss(params, x, y, h, work)[0] == rnn_fast.loss(params, x, y, h)[0]
    cparams = {k: v.astype(complex) for k, v in params.items()}
    assert rnn_fast.loss(cparams, x[:5], y[:5], h, work)[0] == rnn_fast.loss(cparams, x[:5], y[:5], h)[0]
    # A forward-only workspace (evaluations) serves a loss; given to backward, it is not used.
    lean = rnn_fast.workspace(25, m, len(vocab), backward=False)
    assert "dA" not in lean
    x, y = data[:25], data[1:26]
    assert rnn_fast.loss(params, x, y, h, lean)[0] == rnn_fast.loss(params, x, y, h)[0]
    loss_l, grads_l, _ = rnn_fast.loss_and_grads(params, x, y, h, work=lean)
    loss_f, fresh, _ = rnn_fast.loss_and_grads(params, x, y, h)
    assert loss_l == loss_f and all(grads_l[k].tobytes() == fresh[k].tobytes() for k in rnn.PARAM_NAMES)


def test_backward_leaves_the_forward_arrays_alone(english_text):
    m = 5
    vocab, x, y, params = _setup(english_text, m, sigma=0.3, seed=4)
    work = rnn_fast.workspace(len(x), m, len(vocab))
    H, P = rnn_fast.forward(params, x, np.zeros(m), work)
    H_before, P_before = H.copy(), P.copy()
    rnn_fast.backward(params, x, y, H, P, work=work)
    assert H.tobytes() == H_before.tobytes() and P.tobytes() == P_before.tobytes()


@PATHS
def test_repeated_inputs_accumulate_in_U(path):
    # x holds the same index several times: its U column must get the sum of all steps.
    text = "abcabcaab"
    vocab = corpus.build_vocab(text)
    data = corpus.encode(text, vocab)
    params = rnn.init_params(len(vocab), 3, 0.3, np.random.default_rng(9))
    x, y = data[:-1], data[1:]
    _, grads, _ = path.loss_and_grads(params, x, y, np.zeros(3))
    exact = gradcheck.complex_step_grads(params, x, y, np.zeros(3))
    np.testing.assert_allclose(grads["U"], exact["U"], rtol=1e-10, atol=1e-14)


# ------------------------------------------- the plain path and the fast one agree

def _random_case(seed):
    """A random model, text and starting state of random sizes (K, m, n up to 40, 30, 60)."""
    rng = np.random.default_rng(seed)
    K, m, n = int(rng.integers(2, 40)), int(rng.integers(1, 30)), int(rng.integers(1, 60))
    params = rnn.init_params(K, m, float(rng.uniform(0.05, 1.5)), rng)
    params["b"], params["c"] = rng.normal(0, 0.5, m), rng.normal(0, 0.5, K)
    x, y = rng.integers(0, K, n), rng.integers(0, K, n)
    return params, x, y, np.tanh(rng.standard_normal(m))


@pytest.mark.parametrize("seed", range(12))
def test_plain_and_fast_paths_give_the_same_loss_and_gradients(seed):
    params, x, y, h0 = _random_case(seed)
    loss_p, grads_p, h_p = rnn.loss_and_grads(params, x, y, h0)
    loss_f, grads_f, h_f = rnn_fast.loss_and_grads(params, x, y, h0)
    assert loss_f == pytest.approx(loss_p, rel=1e-12, abs=0)
    for name in rnn.PARAM_NAMES:
        scale = np.abs(grads_p[name]).max()
        assert np.abs(grads_f[name] - grads_p[name]).max() <= 1e-12 * scale, name
    # The recurrence is the same products and sums in the same order: the states agree bit for bit.
    assert rnn.forward(params, x, h0)[0].tobytes() == rnn_fast.forward(params, x, h0)[0].tobytes()
    assert h_p.tobytes() == h_f.tobytes()


def test_the_agreement_check_sees_a_wrong_gradient():
    params, x, y, h0 = _random_case(0)
    _, grads_p, _ = rnn.loss_and_grads(params, x, y, h0)
    _, grads_f, _ = rnn_fast.loss_and_grads(dict(params, W=params["W"] * (1 + 1e-9)), x, y, h0)
    assert np.abs(grads_f["W"] - grads_p["W"]).max() > 1e-12 * np.abs(grads_p["W"]).max()


OPTIMIZERS = pytest.mark.parametrize("optimizer, clip", [("adagrad", 5.0), ("adagrad", None), ("adam", None),
                                                           ("adam", 1.0)])


@OPTIMIZERS
def test_plain_and_fast_optimizers_give_the_same_parameters_bit_for_bit(optimizer, clip):
    """lib.rnn's update on each parameter (the plain model) and the flat update of the fast path,
    over steps whose gradients pass the clip bound and steps whose do not."""
    params, x, y, h0 = _random_case(3)
    settings = dict(optimizer=optimizer, clip=clip, eta=0.1, eps=1e-8, beta1=0.9, beta2=0.999, seq_length=len(x),
                    loss="sum")
    fast = parts.make_model(params, params, dict(settings, fast=True))
    plain = parts.make_model(params, params, dict(settings, fast=False))
    fast_opt, plain_opt = parts.make_optimizer(fast, settings), parts.make_optimizer(plain, settings)
    rng = np.random.default_rng(4)
    for scale in (0.1, 20.0, 1.0, 50.0):
        for name in rnn.PARAM_NAMES:
            fast.grads[name][...] = plain.grads[name][...] = scale * rng.standard_normal(params[name].shape)
        fast_opt.step()
        plain_opt.step()
        for name in rnn.PARAM_NAMES:
            assert fast.params[name].tobytes() == plain.params[name].tobytes(), (scale, name)
            for group, arrays in fast_opt.state()["arrays"].items():
                assert arrays[name].tobytes() == plain_opt.state()["arrays"][group][name].tobytes(), (group, name)
    assert fast_opt.state()["t"] == plain_opt.state()["t"] == 4


@pytest.mark.parametrize("protocol", ["2021", "2026"])
def test_fast_false_trains_on_lib_rnn_and_follows_the_fast_trajectory(english_text, monkeypatch, protocol):
    """train(fast=False) calls lib/rnn.py itself, and 1,000 updates of each protocol end on the same
    smooth loss as the fast path's (to 1e-10) and the same best step."""
    called = []
    real = rnn.loss_and_grads
    monkeypatch.setattr(rnn, "loss_and_grads", lambda *a, **k: called.append(1) or real(*a, **k))
    runs = {fast: train.train(english_text * 4, protocol=protocol, m=16, fast=fast, epochs=100, max_steps=1000,
                              log_every=1000, synth_every=100_000) for fast in (True, False)}
    assert len(called) == 1000  # the plain run's updates, and none of the fast one's
    assert runs[True]["step"] == runs[False]["step"] == 1000
    assert abs(runs[True]["smooth_loss"] - runs[False]["smooth_loss"]) <= 1e-10 * runs[True]["smooth_loss"]
    assert runs[True]["best_step"] == runs[False]["best_step"]
    for name in rnn.PARAM_NAMES:
        np.testing.assert_allclose(runs[True]["params"][name], runs[False]["params"][name], rtol=1e-8, atol=1e-11)


def _text_of_80_characters():
    """English with 80 distinct characters (the course's book has 80): the paragraph of conftest six times,
    every 40 characters one of the printable ASCII characters it lacks, in turn, so that each is read and
    predicted."""
    from conftest import ENGLISH_TEXT
    extra = [chr(c) for c in range(33, 127) if chr(c) not in ENGLISH_TEXT][:80 - len(set(ENGLISH_TEXT))]
    pieces = [ENGLISH_TEXT[i:i + 40] for i in range(0, len(ENGLISH_TEXT), 40)] * 6
    return "".join(piece + extra[k % len(extra)] for k, piece in enumerate(pieces))


@pytest.mark.parametrize("protocol, batch_size", [("2021", 1), ("2026", 1), ("2021", 8), ("2026", 8)])
def test_fast_false_is_the_fast_run_bit_for_bit(protocol, batch_size, assert_same_training_run):
    """lib/rnn.py and the fast path compute the same floating-point operations in the same order: a run
    trained on the equations as written (fast=False) is the fast run, bit for bit, on a text of 80
    distinct characters (where the sums over t and the one-hot products are long enough to round)."""
    text = _text_of_80_characters()
    assert len(set(text)) == 80
    runs = {fast: train.train(text, protocol=protocol, m=40, fast=fast, batch_size=batch_size, epochs=100,
                              max_steps=600, log_every=50, synth_every=200, val_fraction=0.1, eval_every=200)
            for fast in (True, False)}
    assert_same_training_run(runs[True], runs[False])


# ---------------------------------------------------------------- sampling

@pytest.fixture(scope="module")
def briefly_trained(english_text):
    state = train.train(english_text, m=24, eta=0.1, seq_length=25, seed=2, epochs=100,
                        max_steps=400, log_every=400, synth_every=10_000)
    vocab = state["vocab_list"]
    return state["params"], vocab


def test_synthesize_deterministic_in_range_and_length(briefly_trained):
    params, vocab = briefly_trained
    m = params["W"].shape[0]
    a = rnn.synthesize(params, np.zeros(m), 3, 150, np.random.default_rng(11))
    b = rnn.synthesize(params, np.zeros(m), 3, 150, np.random.default_rng(11))
    c = rnn.synthesize(params, np.zeros(m), 3, 150, np.random.default_rng(12))
    assert a.shape == (150,)
    assert np.issubdtype(a.dtype, np.integer)
    assert a.min() >= 0 and a.max() < len(vocab)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(rnn.synthesize(params, np.zeros(m), 3, 0, np.random.default_rng(0))) == 0


def test_synthesize_consumes_one_uniform_per_character(briefly_trained):
    params, _ = briefly_trained
    m = params["W"].shape[0]
    rng = np.random.default_rng(5)
    rnn.synthesize(params, np.zeros(m), 0, 40, rng)
    reference = np.random.default_rng(5)
    reference.random(40)
    assert rng.random() == reference.random()


def test_synthesize_does_not_modify_h0(briefly_trained):
    params, _ = briefly_trained
    h0 = np.full(params["W"].shape[0], 0.25)
    rnn.synthesize(params, h0, 1, 20, np.random.default_rng(0), prime=np.array([1, 2, 3]))
    assert np.all(h0 == 0.25)


@pytest.mark.parametrize("temperature", [0, 0.0, -1, -0.5, float("nan"), float("inf")])
def test_synthesize_rejects_bad_temperature(briefly_trained, temperature):
    params, _ = briefly_trained
    with pytest.raises(ValueError, match="temperature"):
        rnn.synthesize(params, np.zeros(params["W"].shape[0]), 0, 5, np.random.default_rng(0),
                       temperature=temperature)


def _argmax_agreement(params, x0, drawn):
    """Share of draws equal to the argmax of the logits along the drawn path itself."""
    h, x, hits = np.zeros(params["W"].shape[0]), x0, 0
    for d in drawn:
        h = np.tanh(params["W"] @ h + params["U"][:, x] + params["b"])
        hits += int(d == np.argmax(params["V"] @ h + params["c"]))
        x = int(d)
    return hits / len(drawn)


def test_low_temperature_is_nearly_greedy(briefly_trained):
    params, vocab = briefly_trained
    m = params["W"].shape[0]
    x0 = vocab.index("T")
    n = 100
    greedy = np.empty(n, dtype=np.int64)
    h, x = np.zeros(m), x0
    for t in range(n):
        h = np.tanh(params["W"] @ h + params["U"][:, x] + params["b"])
        x = int(np.argmax(params["V"] @ h + params["c"]))
        greedy[t] = x
    for seed in range(4):
        cold = rnn.synthesize(params, np.zeros(m), x0, n, np.random.default_rng(seed), temperature=0.01)
        hot = rnn.synthesize(params, np.zeros(m), x0, n, np.random.default_rng(seed), temperature=1.0)
        # Step by step, the cold draw is the most likely character given its own past...
        assert _argmax_agreement(params, x0, cold) >= 0.97, seed
        # ...while plain sampling is not (so the check can fail).
        assert _argmax_agreement(params, x0, hot) < 0.8, seed
        # The greedy path and the cold draw start out the same (they part at near ties only).
        assert np.array_equal(cold[:20], greedy[:20]), (corpus.decode(cold, vocab), corpus.decode(greedy, vocab))
    assert np.array_equal(
        rnn.synthesize(params, np.zeros(m), x0, n, np.random.default_rng(0), temperature=0.01), greedy)


def test_priming_changes_output_and_equals_manual_feeding(briefly_trained):
    params, vocab = briefly_trained
    m = params["W"].shape[0]
    prime = corpus.encode("the lamp room ", vocab, what="priming text")
    x0 = vocab.index("T")
    primed = rnn.synthesize(params, np.zeros(m), x0, 80, np.random.default_rng(7), prime=prime)
    plain = rnn.synthesize(params, np.zeros(m), x0, 80, np.random.default_rng(7))
    assert not np.array_equal(primed, plain)

    h = np.zeros(m)
    for t in prime[:-1]:
        h = np.tanh(params["W"] @ h + params["U"][:, t] + params["b"])
    manual = rnn.synthesize(params, h, int(prime[-1]), 80, np.random.default_rng(7))
    assert np.array_equal(primed, manual)

    # An empty prime is the same as no prime.
    empty = rnn.synthesize(params, np.zeros(m), x0, 80, np.random.default_rng(7), prime=np.array([], dtype=int))
    assert np.array_equal(empty, plain)


def test_priming_text_outside_vocabulary_is_named(briefly_trained):
    _, vocab = briefly_trained
    assert "Z" not in vocab and "%" not in vocab
    with pytest.raises(corpus.CorpusError) as info:
        corpus.encode("the Zebra at 50%", vocab, what="priming text")
    message = str(info.value)
    assert "priming text" in message
    listed = set(message.rsplit(":", 1)[-1]) - set(" '")
    assert listed == set("the Zebra at 50%") - set(vocab) == set("Z50%")


def test_softmax_sample_edges():
    p = np.array([0.0, 0.2, 0.0, 0.8])
    assert rnn.softmax_sample(p, 0.0) == 1
    assert rnn.softmax_sample(p, 0.1999) == 1
    assert rnn.softmax_sample(p, 0.2001) == 3
    assert rnn.softmax_sample(p, np.nextafter(1.0, 0.0)) == 3
    # Unnormalised weights are scaled by their total.
    assert rnn.softmax_sample(np.array([1.0, 3.0]), 0.26) == 1
    counts = np.bincount([rnn.softmax_sample(p, u) for u in np.random.default_rng(0).random(4000)],
                         minlength=4)
    assert counts[0] == counts[2] == 0
    assert abs(counts[3] / 4000 - 0.8) < 0.03


@pytest.mark.parametrize("temperature", [None, "1", True, float("nan")])
def test_temperature_must_be_a_positive_number(temperature):
    params = rnn.init_params(4, 3, 0.01, np.random.default_rng(0))
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        rnn.synthesize(params, np.zeros(3), 0, 5, np.random.default_rng(0), temperature=temperature)
