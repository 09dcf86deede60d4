"""The handouts' bonus experiments (issue 24): the training orders and their validation chunk,
mini-batches, and nucleus (top-p) sampling."""

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from nbrun import ok, papermill
from reference import bits_per_char
from test_train import TINY_TEXT, _hand_train
from toy_run import run_lib

from lib import checks, paths, rnn, rnn_fast
from lib.sample import sampling
from lib.text import corpus
from lib.training import checkpoint, parts, run_files, runner, train

WORKER = Path(__file__).with_name("_train_worker.py")
L = 5


def walk_settings(**given):
    return dict(dict(seq_length=L, batch_size=1, order="sequential", chunks=None, val_chunk=None, seed=0), **given)


def covered(starts, lengths):
    """Every (update, stream) sequence's input positions, as a list of ranges."""
    starts = np.asarray(starts)
    rows = starts if starts.ndim == 2 else starts[:, None]
    return [range(s, s + n) for row, n in zip(rows, lengths) for s in row]


# ----------------------------------------------------------- the orders

def test_sequential_batch_walks_the_text_as_parallel_streams():
    n = 1003
    starts, lengths, resets = parts.make_walk(n, walk_settings(batch_size=4))(1)
    size = n // 4
    assert starts.shape == resets.shape == (len(lengths), 4) and len(lengths) == (size - 1) // L
    for j in range(4):   # stream j: its own part of the text, in order, one sequence after the other
        assert starts[:, j].tolist() == list(range(j * size, j * size + len(lengths) * L, L))
    assert resets[0].all() and not resets[1:].any()
    positions = [p for r in covered(starts, lengths) for p in r]
    assert len(positions) == len(set(positions))   # each character read once an epoch
    assert np.array_equal(parts.make_walk(n, walk_settings(batch_size=4))(2)[0], starts)


@pytest.mark.parametrize("batch_size", [1, 2])
def test_chunks_visits_every_piece_once_an_epoch_in_a_new_order(batch_size):
    n, chunks = 1000, 8
    size = n // chunks
    per_piece = (size - 1) // L
    walks = {seed: parts.make_walk(n, walk_settings(order="chunks", chunks=chunks, batch_size=batch_size, seed=seed))
             for seed in (0, 1)}
    orders = {}
    for seed, walk in walks.items():
        for epoch in (1, 2, 3):
            starts, lengths, resets = walk(epoch)
            starts = starts.reshape(len(lengths), batch_size)
            resets = resets.reshape(len(lengths), batch_size)
            pieces = starts // size
            # Each piece's sequences exactly once, walked in order from the piece's start.
            for k in range(chunks):
                at = np.sort(starts[pieces == k])
                assert at.tolist() == list(range(k * size, k * size + per_piece * L, L)), (seed, epoch, k)
            # hprev is zeroed exactly at each piece's first sequence.
            assert np.array_equal(resets, starts % size == 0)
            # The order of the pieces (each group of batch_size side by side).
            orders[seed, epoch] = tuple(pieces[::per_piece].ravel())
    assert len(set(orders.values())) == len(orders)   # another order each epoch, and for another seed


@pytest.mark.parametrize("batch_size", [1, 3])
def test_random_starts_are_uniform_fresh_and_reset(batch_size):
    n = 2000
    walk = parts.make_walk(n, walk_settings(order="random", batch_size=batch_size))
    starts, lengths, resets = walk(1)
    assert len(lengths) == (n - 1) // L // batch_size and set(lengths) == {L}
    assert np.asarray(resets).all()
    assert starts.min() >= 0 and starts.max() <= n - L - 1
    # Uniform: every fifth of the range gets about its share of many draws.
    many = np.concatenate([np.ravel(walk(e)[0]) for e in range(1, 30)])
    shares = np.bincount(many * 5 // (n - L), minlength=5) / len(many)
    assert np.all(np.abs(shares - 0.2) < 0.02), shares
    assert not np.array_equal(walk(2)[0], starts)
    other = parts.make_walk(n, walk_settings(order="random", batch_size=batch_size, seed=1))(1)[0]
    assert not np.array_equal(other, starts)


def test_the_initial_weights_do_not_depend_on_the_order(monkeypatch):
    drawn = []
    original = rnn.init_params
    monkeypatch.setattr(rnn, "init_params", lambda *a, **k: drawn.append(original(*a, **k)) or drawn[-1])
    for order, chunks in (("sequential", None), ("chunks", 4), ("random", None)):
        train.train(TINY_TEXT * 4, m=6, seq_length=L, epochs=1, max_steps=1, order=order, chunks=chunks)
    for name in rnn.PARAM_NAMES:
        assert drawn[0][name].tobytes() == drawn[1][name].tobytes() == drawn[2][name].tobytes()


def recording(monkeypatch):
    """Every (x, y, h0) train() passes to its model, recorded (h0: the vanilla cell's state (h0,))."""
    calls = []
    make = parts.make_model

    def make_recording(*args):
        model = make(*args)
        compute = model.loss_and_grads

        def loss_and_grads(x, y, state, update):
            calls.append((np.array(x), np.array(y), np.array(state[0])))
            return compute(x, y, state, update)
        model.loss_and_grads = loss_and_grads
        return model
    monkeypatch.setattr(parts, "make_model", make_recording)
    return calls


ORDERS = [("sequential", 1), ("sequential", 2), ("chunks", 1), ("chunks", 3), ("random", 1), ("random", 3)]


@pytest.mark.parametrize("order, batch_size", ORDERS)
def test_the_validation_chunk_is_never_trained_on_and_hprev_is_zero_exactly_where_said(
        monkeypatch, order, batch_size):
    # Seven pieces; piece 4 alone holds the letter Z, so no training sequence may read or predict one.
    piece = "the cat sat on the mat and ran. " * 5
    text = "".join(piece if k != 4 else "Z" * len(piece) for k in range(7))
    calls = recording(monkeypatch)
    settings = dict(m=8, seq_length=L, epochs=2, order=order, chunks=7, val_chunk=4, batch_size=batch_size,
                    seed=2, eval_every=10_000)
    state = train.train(text, **settings)
    z = corpus.build_vocab(text).index("Z")
    assert calls and all(z not in x and z not in y for x, y, _ in calls)
    # hprev is zero exactly where the walk resets it, and carried (nonzero) everywhere else.
    walk = parts.make_walk(len(text), dict(settings, **{"val_chunk": 4}))
    expected = np.concatenate([np.reshape(walk(e)[2], (-1, batch_size)) for e in (1, 2)])
    zero = np.array([np.reshape(~h0.any(axis=-1), batch_size) for _, _, h0 in calls])
    assert np.array_equal(zero, expected)
    assert len(calls) == state["step"] == 2 * state["steps_per_epoch"]
    # Its bits per character, from h = 0, are what the history records.
    size = len(text) // 7
    data = corpus.encode(text, corpus.build_vocab(text))
    final = train.train(text, **dict(settings, eval_every=state["step"]))
    assert final["history"]["val_bpc"][-1] == pytest.approx(
        bits_per_char(final["params"], data[4 * size:5 * size]), abs=1e-12)


CUT_SETTINGS = dict(m=8, seq_length=L, log_every=3, synth_every=13, synth_len=10, checkpoint_every=7, seed=1,
                    eval_every=11)


@pytest.mark.parametrize("order, batch_size", ORDERS)
def test_a_run_stopped_mid_epoch_continues_bitwise(tmp_path, assert_same_training_run, order, batch_size):
    text = TINY_TEXT * 8
    settings = dict(CUT_SETTINGS, order=order, batch_size=batch_size, epochs=2,
                    chunks=7 if order != "random" else None, val_chunk=1 if order != "random" else None)
    per_epoch = train.train(text, **dict(settings, max_steps=1))["steps_per_epoch"]
    cut = per_epoch + per_epoch // 2 + 1        # inside the second epoch
    whole = train.train(text, tmp_path / "whole", **settings)
    train.train(text, tmp_path / "parts", max_steps=cut, **settings)
    rest = train.train(text, tmp_path / "parts", resume=True, **settings)
    assert rest["timing"]["steps_this_session"] == whole["step"] - cut
    assert np.shape(rest["h_prev"]) == ((8,) if batch_size == 1 else (batch_size, 8))
    assert_same_training_run(whole, rest)


def _checkpoint_step(path):
    try:
        return checkpoint.load(path)[1].get("step")
    except checkpoint.CheckpointError:
        return None


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("order", ["sequential", "chunks", "random"])
def test_a_batch_run_killed_mid_epoch_continues_bitwise(english_text, english_text_file, tmp_path,
                                                        assert_same_training_run, order):
    settings = dict(m=12, seq_length=10, seed=4, epochs=1000, max_steps=300, log_every=10, synth_every=50,
                    synth_len=20, checkpoint_every=10, batch_size=2, order=order,
                    chunks=4 if order == "chunks" else None, eval_every=1000)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(WORKER), str(english_text_file), str(out), json.dumps(settings),
                             "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (out / "last.npz").exists() or not _checkpoint_step(out / "last.npz"):
            assert proc.poll() is None, ("worker ended before it was killed", proc.communicate())
            assert time.monotonic() < deadline, "worker wrote no checkpoint within 60 s"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_at = _checkpoint_step(out / "last.npz")
    per_epoch = train.train(english_text, **dict(settings, max_steps=1))["steps_per_epoch"]
    assert 0 < killed_at < settings["max_steps"] and killed_at % per_epoch != 0   # mid-epoch
    resumed = train.train(english_text, out, resume=True, **settings)
    reference = train.train(english_text, tmp_path / "reference", **settings)
    assert resumed["timing"]["steps_this_session"] == settings["max_steps"] - killed_at
    assert_same_training_run(reference, resumed)


# ----------------------------------------------------------- mini-batches

@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_the_batch_gradient_is_the_mean_of_the_sequences_gradients(loss):
    rng = np.random.default_rng(7)
    K, m, n, B = 9, 7, 6, 5
    params = rnn.init_params(K, m, 0.3, rng)
    X, Y = rng.integers(0, K, (B, n)), rng.integers(0, K, (B, n))
    H0 = np.tanh(rng.standard_normal((B, m)))
    X[1, :3] = X[0, :3]    # repeated inputs across the batch add up in dU
    singles = [rnn.loss_and_grads(params, X[i], Y[i], H0[i], loss) for i in range(B)]
    plain = rnn.loss_and_grads_batch(params, X, Y, H0, loss)
    fast = rnn_fast.loss_and_grads_batch(params, X, Y, H0, loss=loss)
    for value, grads, h_last in (plain, fast):
        assert value == pytest.approx(np.mean([s[0] for s in singles]), abs=1e-12)
        for name in rnn.PARAM_NAMES:
            mean = np.mean([s[1][name] for s in singles], axis=0)
            assert np.abs(grads[name] - mean).max() <= 1e-12 * max(1.0, np.abs(mean).max()), name
        assert np.abs(h_last - np.array([s[2] for s in singles])).max() <= 1e-14
    assert not np.allclose(plain[1]["W"], singles[0][1]["W"])   # (a real batch, not one sequence)


def test_batch_size_1_is_the_course_run_bitwise():
    settings = dict(m=6, eta=0.1, seq_length=7, sigma=0.05, seed=3)
    state = train.train(TINY_TEXT, epochs=2, log_every=1, synth_every=10_000, batch_size=1, order="sequential",
                        fast=True, **settings)
    params, history, _, h = _hand_train(TINY_TEXT, epochs=2, **settings)
    for name in rnn.PARAM_NAMES:
        assert params[name].tobytes() == state["params"][name].tobytes(), name
    assert state["h_prev"].tobytes() == h.tobytes() and state["history"]["loss"] == history["loss"]


def test_a_sequential_batch_run_follows_hand_computed_streams():
    text = TINY_TEXT * 3
    B, n = 3, 7
    state = train.train(text, m=6, seq_length=n, epochs=2, batch_size=B, fast=False, seed=5, log_every=1)
    vocab = corpus.build_vocab(text)
    data = corpus.encode(text, vocab)
    params = rnn.init_params(len(vocab), 6, 0.01, np.random.default_rng(np.random.SeedSequence(5).spawn(2)[0]))
    memory = {k: np.zeros_like(v) for k, v in params.items()}
    size = len(data) // B
    losses = []
    for _ in range(2):
        H = np.zeros((B, 6))
        for i in range((size - 1) // n):
            at = np.arange(B)[:, None] * size + i * n + np.arange(n)
            value, grads, H = rnn.loss_and_grads_batch(params, data[at], data[at + 1], H)
            rnn.adagrad_step(params, grads, memory, 0.1)
            losses.append(value)
    assert state["history"]["loss"] == losses
    for name in rnn.PARAM_NAMES:
        assert params[name].tobytes() == state["params"][name].tobytes(), name
    fast = train.train(text, m=6, seq_length=n, epochs=2, batch_size=B, fast=True, seed=5)
    for name in rnn.PARAM_NAMES:
        assert np.allclose(fast["params"][name], params[name], rtol=1e-9, atol=1e-12), name


def test_summary_records_the_order_and_the_batch(text_file, tmp_path):
    result = run_lib(text_file, tmp_path / "run", max_steps=60, order="chunks", chunks=6, val_chunk=5,
                     batch_size=5, eval_every=20)
    summary = run_files.read_summary(tmp_path / "run")
    assert {k: summary[k] for k in ("order", "chunks", "val_chunk", "batch_size")} == \
        {"order": "chunks", "chunks": 6, "val_chunk": 5, "batch_size": 5}
    assert {k: summary["differing"].get(k) for k in ("order", "chunks", "val_chunk", "batch_size")} == \
        {"order": "chunks", "chunks": 6, "val_chunk": 5, "batch_size": 5}
    assert result["out"].name == "run"
    held = summary["heldout"]
    assert held["name"].startswith("validation chunk 5 of 6") and held["chars"] == summary["n_train"] // 6
    history = run_files.read_history(tmp_path / "run")
    assert [s for s, v in zip(history["step"], history["val_bpc"]) if v == v] == [20, 40, 60]
    assert summary["final_val_bpc"] == history["val_bpc"][-1] == pytest.approx(held["final_bpc"], abs=1e-12)
    # the default folder names what differs
    planned = runner.plan(data_path=str(text_file), order="random", batch_size=4)
    assert planned["out"].name == "train_10ep_toy_orderrandom_batch4"



def test_the_notebooks_that_read_a_run_see_its_validation_chunk(text_file, tmp_path):
    """best_model.ipynb's measures and inside.ipynb read a run's held-out text through analysis.run_texts:
    for a val_chunk run, the piece it set aside (its bits/char those the run measured), the training text
    without it; best_model.ipynb measures against that piece."""
    from lib.inside import analysis
    run = tmp_path / "run"
    run_lib(text_file, run, max_steps=60, order="chunks", chunks=6, val_chunk=2, eval_every=20)
    summary, status = run_files.read_summary(run), json.loads((run / "status.json").read_text(encoding="utf-8"))
    text = corpus.read_text(text_file)
    training, held, name, _ = analysis.run_texts(run, status, summary)
    size = summary["n_train"] // 6
    assert held == text[2 * size:3 * size] and training == text[:2 * size] + text[3 * size:summary["n_train"]]
    assert name == f"the {summary['heldout']['name']}"
    params, vocab, _ = checkpoint.load_model(run / "best.npz")
    held_bits = bits_per_char(params, corpus.encode(held, vocab))
    assert held_bits == pytest.approx(summary["heldout"]["best_bpc"], abs=1e-9)
    ok(papermill(paths.REPO_ROOT / "notebooks" / "best_model.ipynb", tmp_path / "b.ipynb", tmp_path,
                 ("run_dir", run), ("out_dir", tmp_path / "b"), ("passage_len", 50), ("sweep_len", 60),
                 ("measure_draws", 2), ("measure_len", 100)))
    reference = run_files.read_passage(tmp_path / "b")["measures"]["reference"]
    assert reference["name"] == name and len(reference["word_share"]) == 2

# ----------------------------------------------------------- nucleus sampling

def straightforward_nucleus(p, theta):
    """The nucleus as the issue words it, in exact arithmetic: likeliest first (ties by index), the
    smallest k whose probabilities sum to at least theta."""
    total = sum(Fraction(v) for v in p)
    ranked = sorted(range(len(p)), key=lambda i: (-Fraction(p[i]), i))
    kept, mass = [], Fraction(0)
    for i in ranked:
        kept.append(i)
        mass += Fraction(p[i]) / total
        if mass >= Fraction(theta):
            break
    return sorted(kept)


def test_the_nucleus_against_a_straightforward_implementation():
    rng = np.random.default_rng(11)
    for trial in range(400):
        K = int(rng.integers(1, 30))
        theta = float(rng.uniform(0.01, 1.0))
        if trial % 2:    # many ties, and thetas whose boundary falls exactly on a sum (every sum exact here)
            p = 4.0 * rng.integers(1, 4, K)
            theta = theta if trial % 3 else float(rng.choice([0.25, 0.5, 0.75, 1.0]))
        else:
            p = rng.dirichlet(np.ones(K) * 0.5) + 1e-3
        assert rnn.nucleus(p, theta).tolist() == straightforward_nucleus(p, theta), (p, theta)
    # A tie at the boundary keeps the lower index.
    assert rnn.nucleus(np.array([0.2, 0.3, 0.2, 0.3]), 0.7).tolist() == [0, 1, 3]


def test_a_nucleus_draw_is_renormalised_within_the_nucleus():
    p = np.array([0.05, 0.4, 0.1, 0.3, 0.15])
    kept = rnn.nucleus(p, 0.8)
    assert kept.tolist() == [1, 3, 4]
    grid = (np.arange(20_000) + 0.5) / 20_000
    counts = np.bincount([rnn.nucleus_sample(p, u, 0.8) for u in grid], minlength=5) / len(grid)
    assert np.allclose(counts, np.where(np.isin(np.arange(5), kept), p / p[kept].sum(), 0), atol=1e-4)


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    vocab = list("abcdefghij \n")
    return rnn.init_params(len(vocab), 16, 0.4, rng), vocab


def test_top_p_1_is_plain_sampling_bitwise_and_a_small_top_p_the_argmax(model):
    params, vocab = model
    h0 = np.zeros(16)
    plain = rnn.synthesize(params, h0, 0, 300, np.random.default_rng(1), temperature=0.8)
    assert np.array_equal(rnn.synthesize(params, h0, 0, 300, np.random.default_rng(1), 0.8, top_p=1.0), plain)
    assert np.array_equal(np.concatenate(list(rnn_fast.synthesize_blocks(
        params, h0, 0, 300, np.random.default_rng(1), 0.8, top_p=1.0))), plain)
    argmax = rnn.synthesize(params, h0, 0, 300, None, argmax=True)
    small = 0.5 / len(vocab)     # below the likeliest character's probability, whatever it is
    assert np.array_equal(rnn.synthesize(params, h0, 0, 300, np.random.default_rng(1), top_p=small), argmax)
    # The fast twin draws the same characters as lib/rnn.py's draw, nucleus included.
    slow = rnn.synthesize(params, h0, 0, 500, np.random.default_rng(2), 1.3, top_p=0.6)
    fast = np.concatenate(list(rnn_fast.synthesize_blocks(params, h0, 0, 500, np.random.default_rng(2), 1.3,
                                                          top_p=0.6, block=64)))
    assert np.array_equal(slow, fast) and not np.array_equal(slow, rnn.synthesize(
        params, h0, 0, 500, np.random.default_rng(2), 1.3))


def cli(*args):
    return subprocess.run([sys.executable, "-m", "lib.sample", *map(str, args)], capture_output=True,
                          cwd=paths.REPO_ROOT, timeout=120)


@pytest.fixture(scope="module")
def run_dir(text_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    run_lib(text_file, out, max_steps=200)
    return out


def test_the_command_samples_with_top_p(run_dir):
    params, vocab, _ = checkpoint.load_model(run_dir / "best.npz")
    plain = cli(run_dir, "-n", 200, "--seed", 3)
    assert cli(run_dir, "-n", 200, "--seed", 3, "--top-p", 1).stdout == plain.stdout
    nucleus = cli(run_dir, "-n", 200, "--seed", 3, "--top-p", 0.5)
    assert nucleus.stdout.decode("utf-8") == sampling.sample_text(params, vocab, 200, 3, top_p=0.5)
    assert nucleus.stdout != plain.stdout and "top-p 0.5" in nucleus.stderr.decode()
    assert cli(run_dir, "-n", 200, "--top-p", 0.01).stdout == cli(run_dir, "-n", 200, "--argmax").stdout
    for bad in ("0", "1.5"):
        result = cli(run_dir, "--top-p", bad)
        lines = result.stderr.decode().strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and "--top-p" in lines[0], lines
        assert "must be a number in (0, 1]" in lines[0] and result.stdout == b""


def test_best_model_writes_a_top_p_sweep_and_the_sampler_draws_with_top_p(run_dir, tmp_path):
    ok(papermill(paths.REPO_ROOT / "notebooks" / "best_model.ipynb", tmp_path / "b.ipynb", tmp_path,
                 ("run_dir", run_dir), ("out_dir", tmp_path), ("passage_len", 50), ("sweep_len", 60),
                 ("top_ps", 0.4)))
    passage = run_files.read_passage(tmp_path)
    params, vocab, _ = checkpoint.load_model(run_dir / "best.npz")
    assert passage["top_ps"] == [0.4]
    assert passage["top_p_sweep"] == [{"top_p": 0.4, "text": sampling.sample_text(params, vocab, 60, 0, top_p=0.4)}]
    pytest.importorskip("ipywidgets")
    from lib.sample import widget
    box = widget.sampler(params, vocab, length=80, seed=4, top_p=0.3)
    assert sampling.sample_text(params, vocab, 80, 4, top_p=0.3) in box.controls["text"].value
    box.controls["top_p"].value = 1.0
    assert sampling.sample_text(params, vocab, 80, 4) in box.controls["text"].value


def test_record_models_sample_with_top_p(tmp_path):
    from lib.records import record_sampling
    params, vocab = rnn.init_params(6, 8, 0.5, np.random.default_rng(2)), list("\nabcde")
    top = record_sampling.sample_records(params, vocab, "\n", 5, 0, max_len=30, top_p=0.01)
    assert top == record_sampling.sample_records(params, vocab, "\n", 5, 0, max_len=30, argmax=True)
    assert record_sampling.sample_records(params, vocab, "\n", 5, 0, max_len=30, top_p=1.0) == \
        record_sampling.sample_records(params, vocab, "\n", 5, 0, max_len=30)
    with pytest.raises(checks.ParameterError, match=r"^top_p must be a number in \(0, 1\], got 0$"):
        record_sampling.sample_records(params, vocab, "\n", 5, 0, top_p=0)


# ----------------------------------------------------------- bad values, one line naming the parameter

@pytest.mark.parametrize("given, message", [
    ({"order": "shuffle"}, "order must be one of 'sequential', 'chunks', 'random', got 'shuffle'"),
    ({"order": "chunks", "chunks": 0}, "chunks must be a positive integer (or None: not cut into pieces), got 0"),
    ({"order": "chunks", "chunks": 5000}, "chunks=5000 is more chunks than the text has sequences"),
    ({"order": "chunks"}, "order='chunks' needs chunks"),
    ({"chunks": 5, "val_chunk": 5}, "val_chunk must be in 0..chunks-1 = 0..4, got 5"),
    ({"val_chunk": -1, "chunks": 5}, "val_chunk must be a non-negative integer"),
    ({"val_chunk": 2}, "val_chunk=2 is the index of one of the chunks pieces: give chunks too"),
    ({"chunks": 4}, "chunks=4 cuts the text for order='chunks' or a val_chunk"),
    ({"batch_size": 0}, "batch_size must be a positive integer (or None: the protocol's), got 0"),
    ({"batch_size": 1000}, "batch_size=1000 is more streams than the text allows"),
    ({"batch_size": 1000, "order": "random"}, "batch_size=1000 is more sequences than an epoch of order='random'"),
    ({"batch_size": 4, "order": "chunks", "chunks": 6}, "batch_size=4 must divide the 6 pieces"),
    ({"val_chunk": 1, "chunks": 4, "val_fraction": 0.1}, "val_chunk=1 with val_fraction=0.1: one held-out set"),
    ({"batch_size": 2, "records": True}, "batch_size=2 is for a stream of text: record mode"),
])
def test_bad_values_end_in_one_line_naming_the_parameter(text_file, tmp_path, given, message):
    name = message.split("=")[0].split(" ")[0]
    with pytest.raises(checks.ParameterError) as caught:
        runner.plan(data_path=str(text_file), out_dir=str(tmp_path / "out"), seq_length=25, **given)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(name) or name in str(caught.value).split(":")[0]
    assert not (tmp_path / "out").exists()
    with pytest.raises(checks.ParameterError) as direct:     # and train() itself, called from code
        train.train(text_file.read_text(encoding="utf-8"), seq_length=25,
                    **{k: v for k, v in given.items() if k != "records"},
                    **({"record_mode": {"boundary": "\n"}} if given.get("records") else {}))
    assert message in str(direct.value)


@pytest.mark.parametrize("value", [0, 1.5, "high"])
def test_bad_top_p_is_named(model, value):
    params, vocab = model
    with pytest.raises(checks.ParameterError, match=f"^top_p must be a number in \\(0, 1\\], got {value!r}$"):
        sampling.sample_text(params, vocab, 10, 0, top_p=value)
    with pytest.raises(ValueError, match="^top_p must be a number in"):
        rnn.synthesize(params, np.zeros(16), 0, 10, np.random.default_rng(0), top_p=value)
