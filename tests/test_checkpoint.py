"""Checkpoints: lib.training.checkpoint files, train()'s last.npz/best.npz, resume, crashes."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from lib import checks, rnn
from lib.sample import sampling
from lib.text import corpus
from lib.training import checkpoint, train

WORKER = Path(__file__).with_name("_train_worker.py")

RUN = dict(m=8, eta=0.1, seq_length=10, seed=3, epochs=50, log_every=3, synth_every=10,
           synth_len=20, val_fraction=0.2, eval_every=5)


def _load_last(out_dir, text, state):
    vocab = corpus.build_vocab(text)
    return checkpoint.load_state(Path(out_dir) / "last.npz", vocab, train.text_sha256(text), state["settings"])


def _tmp_files(folder):
    return [p.name for p in Path(folder).iterdir() if p.name.endswith(".tmp")]


# ------------------------------------------------------------ lib.training.checkpoint

def test_save_load_round_trip(tmp_path):
    path = tmp_path / "sub" / "file.npz"
    arrays = {"a": np.arange(6.0).reshape(2, 3), "i": np.array([1, 2, 3], dtype=np.int64),
              "s": np.array(np.nan)}
    meta = {"name": "x", "n": 3, "f": 0.1, "nested": {"list": [1, None, "é"]}, "big": 2 ** 100}
    checkpoint.save(path, arrays, meta)
    loaded, loaded_meta = checkpoint.load(path)
    assert loaded_meta == meta
    assert set(loaded) == set(arrays)
    for key in arrays:
        assert loaded[key].dtype == arrays[key].dtype
        assert loaded[key].tobytes() == arrays[key].tobytes()
    assert _tmp_files(path.parent) == []


def test_save_rejects_nan_in_metadata_and_leaves_nothing(tmp_path):
    path = tmp_path / "file.npz"
    with pytest.raises(ValueError):
        checkpoint.save(path, {"a": np.zeros(2)}, {"loss": float("nan")})
    assert not path.exists() and _tmp_files(tmp_path) == []


def test_load_missing(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="not found"):
        checkpoint.load(tmp_path / "none.npz")


def test_load_plain_npz_without_metadata(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(checkpoint.CheckpointError, match="no metadata"):
        checkpoint.load(path)


def test_load_refuses_pickled_objects(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, __meta__=np.array(json.dumps({})), evil=np.array([{"a": 1}], dtype=object))
    with pytest.raises(checkpoint.CheckpointError, match="corrupt"):
        checkpoint.load(path)


def test_require_names_missing_key():
    with pytest.raises(checkpoint.CheckpointError, match="'step'"):
        checkpoint.require("p.npz", {"kind": "x"}, {}, meta_keys=("kind", "step"))
    with pytest.raises(checkpoint.CheckpointError, match="'W'"):
        checkpoint.require("p.npz", {}, {"b": 1}, array_keys=("b", "W"))


# ------------------------------------------------------------- atomic writes

class SimulatedCrash(Exception):
    pass


def _crashing_savez(file, **arrays):
    file.write(b"PK\x03\x04 half a zip file ...")  # some bytes reach the temporary file
    raise SimulatedCrash("power cut in the middle of np.savez")


def test_crash_during_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.npz"
    checkpoint.save(path, {"a": np.arange(4.0)}, {"step": 1})
    before = path.read_bytes()
    monkeypatch.setattr(np, "savez", _crashing_savez)
    with pytest.raises(SimulatedCrash):
        checkpoint.save(path, {"a": np.arange(5.0)}, {"step": 2})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.npz"]
    monkeypatch.undo()
    arrays, meta = checkpoint.load(path)
    assert meta == {"step": 1} and arrays["a"].tolist() == [0, 1, 2, 3]


def test_interrupt_during_save_leaves_no_temp_file(tmp_path, monkeypatch):
    def interrupted(file, **arrays):
        file.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(tmp_path / "x.npz", {"a": np.zeros(1)}, {})
    assert list(tmp_path.iterdir()) == []


def test_crash_during_training_checkpoint_keeps_previous(english_text, tmp_path, monkeypatch):
    out = tmp_path / "run"
    first = train.train(english_text, out, max_steps=10, checkpoint_every=10, **RUN)
    last_before = (out / "last.npz").read_bytes()
    best_before = (out / "best.npz").read_bytes()
    monkeypatch.setattr(np, "savez", _crashing_savez)
    with pytest.raises(SimulatedCrash):
        train.train(english_text, out, max_steps=20, checkpoint_every=5, resume=True, **RUN)
    monkeypatch.undo()
    assert (out / "last.npz").read_bytes() == last_before
    assert (out / "best.npz").read_bytes() == best_before
    assert sorted(p.name for p in out.iterdir()) == ["best.npz", "last.npz"]
    assert _load_last(out, english_text, first)["step"] == 10


# ------------------------------------------------------- train() checkpoints

@pytest.mark.parametrize("protocol, groups", [("2021", ["M"]), ("2026", ["m", "v"])])
def test_round_trip_of_training_state(english_text, tmp_path, protocol, groups):
    out = tmp_path / "run"
    state = train.train(english_text, out, max_steps=37, checkpoint_every=1000,
                        data_path="somewhere/english.txt", **dict(RUN, protocol=protocol))
    assert sorted(p.name for p in out.iterdir()) == ["best.npz", "last.npz"]
    loaded = _load_last(out, english_text, state)
    arrays = [(key, loaded[key], state[key]) for key in ("params", "best_params")]
    assert sorted(loaded["optimizer"]["arrays"]) == sorted(state["optimizer"]["arrays"]) == sorted(groups)
    assert loaded["optimizer"]["t"] == state["optimizer"]["t"] == 37
    arrays += [(group, loaded["optimizer"]["arrays"][group], state["optimizer"]["arrays"][group]) for group in groups]
    for key, there, here in arrays:
        for name in rnn.PARAM_NAMES:
            assert there[name].dtype == np.float64
            assert there[name].tobytes() == here[name].tobytes(), (key, name)
            assert key == "params" or key == "best_params" or here[name].any(), (key, name)  # they moved
    assert loaded["h_prev"].tobytes() == state["h_prev"].tobytes()
    for key in ("step", "epoch", "loss", "smooth_loss", "val_bpc"):
        assert np.asarray(loaded["history"][key], dtype=float).tobytes() == \
            np.asarray(state["history"][key], dtype=float).tobytes(), key
    assert any(np.isfinite(loaded["history"]["val_bpc"]))
    for key in checkpoint.STATE_META:
        if key in ("format", "kind", "wall_seconds"):
            continue
        assert loaded[key] == state[key], key
    assert loaded["wall_seconds"] == pytest.approx(state["wall_seconds"], abs=1.0)
    assert loaded["format"] == checkpoint.FORMAT_VERSION and loaded["kind"] == "checkpoint"
    assert loaded["epoch_starts"] == state["epoch_starts"]
    assert loaded["data_path"] == "somewhere/english.txt"
    assert loaded["step"] == 37 and len(loaded["samples"]) == 4

    # best.npz is the best model, loadable on its own.
    params, vocab, meta = checkpoint.load_model(out / "best.npz")
    assert vocab == corpus.build_vocab(english_text)
    assert meta["kind"] == "model" and meta["step"] == state["best_step"]
    assert meta["smooth_loss"] == state["best_smooth_loss"]
    for name in rnn.PARAM_NAMES:
        assert params[name].tobytes() == state["best_params"][name].tobytes(), name
    # load_model on the checkpoint gives its current parameters.
    current, _, _ = checkpoint.load_model(out / "last.npz")
    for name in rnn.PARAM_NAMES:
        assert current[name].tobytes() == state["params"][name].tobytes(), name


def test_checkpoint_every_schedule(english_text, tmp_path):
    events = []
    train.train(english_text, tmp_path / "run", max_steps=23, checkpoint_every=10,
                on_event=events.append, **RUN)
    assert [e["step"] for e in events if e["kind"] == "checkpoint"] == [10, 20, 23]


# On and off the log/sample/checkpoint schedules; 40 stops exactly at the end of epoch 1.
@pytest.mark.parametrize("first", [21, 23, 30, 40])
def test_resume_equals_uninterrupted_run(english_text, tmp_path, first, assert_same_training_run):
    whole = train.train(english_text, tmp_path / "whole", max_steps=2 * first, checkpoint_every=7, **RUN)
    part = train.train(english_text, tmp_path / "parts", max_steps=first, checkpoint_every=7, **RUN)
    assert part["step"] == first
    rest = train.train(english_text, tmp_path / "parts", max_steps=2 * first, checkpoint_every=7,
                       resume=True, **RUN)
    assert rest["timing"]["steps_this_session"] == first
    assert whole["step"] == 2 * first and whole["epoch"] >= 2  # the run crosses an epoch start
    assert_same_training_run(whole, rest)
    assert rest["samples"][:len(part["samples"])] == part["samples"]
    # The files on disk agree too.
    assert_same_training_run(_load_last(tmp_path / "whole", english_text, whole),
                             _load_last(tmp_path / "parts", english_text, rest))
    assert (tmp_path / "whole" / "best.npz").read_bytes() == (tmp_path / "parts" / "best.npz").read_bytes()


def test_resume_of_a_finished_run_changes_nothing(english_text, tmp_path, assert_same_training_run):
    out = tmp_path / "run"
    done = train.train(english_text, out, max_steps=15, **RUN)
    again = train.train(english_text, out, max_steps=15, resume=True, **RUN)
    assert again["timing"]["steps_this_session"] == 0
    assert_same_training_run(done, again)


def _poll_step(path):
    try:
        _, meta = checkpoint.load(path)
    except checkpoint.CheckpointError:
        return None
    return meta.get("step")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("protocol, fast, network", [
    ("2021", True, {}), ("2026", True, {}), ("2026", False, {}),
    # Gated networks: two layers, dropout masks drawn from the update's number, a batch, float32.
    ("2026", True, dict(cell="lstm", layers=2, dropout=0.25, batch_size=2, dtype="float32")),
    ("2021", True, dict(cell="gru", layers=2, dropout=0.25))])
def test_resume_after_sigkill_equals_uninterrupted_run(english_text, english_text_file, tmp_path,
                                                       assert_same_training_run, protocol, fast, network):
    """Killed mid-training, a run continues bitwise (Adam's moments and update count included)."""
    settings = dict(protocol=protocol, fast=fast, m=30, seq_length=25, seed=4, epochs=1000, max_steps=600,
                    log_every=10, synth_every=100, synth_len=50, val_fraction=0.2, eval_every=50,
                    checkpoint_every=20, **network)
    out = tmp_path / "killed"
    last = out / "last.npz"
    # 30 checkpoints with a 0.1 s pause after each: the worker needs about 3 s.
    proc = subprocess.Popen([sys.executable, str(WORKER), str(english_text_file), str(out),
                             json.dumps(settings), "0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, ("worker ended before it was killed", proc.communicate())
            step = _poll_step(last) if last.exists() else None
            if step:
                break
            assert time.monotonic() < deadline, "worker wrote no checkpoint within 60 s"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert b"finished" not in stdout
    killed_at = _poll_step(last)
    assert 0 < killed_at < settings["max_steps"]

    resumed = train.train(english_text, out, resume=True, **settings)
    reference = train.train(english_text, tmp_path / "reference", **settings)
    assert resumed["timing"]["steps_this_session"] == settings["max_steps"] - killed_at
    assert_same_training_run(reference, resumed)
    best_ref, _, meta_ref = checkpoint.load_model(tmp_path / "reference" / "best.npz")
    best_res, _, meta_res = checkpoint.load_model(out / "best.npz")
    assert meta_res["step"] == meta_ref["step"] and meta_res["smooth_loss"] == meta_ref["smooth_loss"]
    assert list(best_res) == list(best_ref)
    for name in best_ref:
        assert best_res[name].tobytes() == best_ref[name].tobytes(), name


# ------------------------------------------------------------ bad checkpoints

def _bad_resume(text, out, **overrides):
    kwargs = dict(RUN, max_steps=30, checkpoint_every=10)
    kwargs.update(overrides)
    return train.train(text, out, resume=True, **kwargs)


def test_resume_without_checkpoint(english_text, tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="not found"):
        _bad_resume(english_text, tmp_path / "empty")
    with pytest.raises(train.ConfigError, match="out_dir"):
        train.train(english_text, None, resume=True)


def test_corrupt_checkpoint_is_reported_and_kept(english_text, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    junk = np.random.default_rng(0).bytes(5000)
    (out / "last.npz").write_bytes(junk)
    with pytest.raises(checkpoint.CheckpointError, match="corrupt") as info:
        _bad_resume(english_text, out)
    assert str(out / "last.npz") in str(info.value)
    assert (out / "last.npz").read_bytes() == junk
    assert sorted(p.name for p in out.iterdir()) == ["last.npz"]


def test_truncated_checkpoint_is_reported_and_kept(english_text, tmp_path):
    out = tmp_path / "run"
    train.train(english_text, out, max_steps=10, **RUN)
    whole = (out / "last.npz").read_bytes()
    best = (out / "best.npz").read_bytes()
    half = whole[:len(whole) // 2]
    (out / "last.npz").write_bytes(half)
    with pytest.raises(checkpoint.CheckpointError, match="corrupt or truncated") as info:
        _bad_resume(english_text, out)
    assert str(out / "last.npz") in str(info.value)
    assert (out / "last.npz").read_bytes() == half
    assert (out / "best.npz").read_bytes() == best
    assert _tmp_files(out) == []


def _damage_zip_header(raw, field):
    """A real checkpoint with one field of its first central-directory entry changed."""
    b = bytearray(raw)
    at = b.index(b"PK\x01\x02")  # central directory file header
    if field == "version needed":
        b[at + 6:at + 8] = (151).to_bytes(2, "little")  # "needs zip version 15.1"
    else:  # compression method, in the local header too
        b[at + 10:at + 12] = (99).to_bytes(2, "little")
        local = b.index(b"PK\x03\x04")
        b[local + 8:local + 10] = (99).to_bytes(2, "little")
    return bytes(b)


@pytest.mark.parametrize("field", ["version needed", "compression method"])
def test_corrupt_zip_header_is_a_checkpoint_error(english_text, tmp_path, field):
    # Two damaged bytes in the zip directory make zipfile raise NotImplementedError,
    # which load() must report as a corrupt checkpoint like any other damage.
    out = tmp_path / "run"
    train.train(english_text, out, max_steps=10, **RUN)
    damaged = _damage_zip_header((out / "last.npz").read_bytes(), field)
    (out / "last.npz").write_bytes(damaged)
    with pytest.raises(checkpoint.CheckpointError) as err:
        _bad_resume(english_text, out)
    assert "corrupt" in str(err.value) and str(out / "last.npz") in str(err.value)
    assert (out / "last.npz").read_bytes() == damaged


def test_npy_file_in_place_of_checkpoint(english_text, tmp_path):
    # np.load returns a bare ndarray for a .npy file: not a checkpoint, and not a crash.
    out = tmp_path / "run"
    out.mkdir()
    with open(out / "last.npz", "wb") as f:
        np.save(f, np.zeros(3))
    before = (out / "last.npz").read_bytes()
    with pytest.raises(checkpoint.CheckpointError, match="corrupt"):
        _bad_resume(english_text, out)
    assert (out / "last.npz").read_bytes() == before


def test_data_path_may_be_a_pathlib_path(english_text, english_text_file, tmp_path):
    # read_text takes a Path, so callers naturally pass the same Path as data_path;
    # it must reach the JSON metadata as a string, not break the first checkpoint.
    out = tmp_path / "run"
    state = train.train(english_text, out, max_steps=5, data_path=english_text_file, **RUN)
    assert _load_last(out, english_text, state)["data_path"] == str(english_text_file)


def test_checkpoint_missing_an_array(english_text, tmp_path):
    out = tmp_path / "run"
    train.train(english_text, out, max_steps=10, **RUN)
    arrays, meta = checkpoint.load(out / "last.npz")
    del arrays["adagrad_W"]
    checkpoint.save(out / "last.npz", arrays, meta)
    with pytest.raises(checkpoint.CheckpointError, match="adagrad_W"):
        _bad_resume(english_text, out)


def test_model_file_is_not_a_training_checkpoint(english_text, tmp_path):
    out = tmp_path / "run"
    train.train(english_text, out, max_steps=10, **RUN)
    os.replace(out / "best.npz", out / "last.npz")
    with pytest.raises(checkpoint.CheckpointError):
        _bad_resume(english_text, out)


def test_checkpoint_with_other_vocabulary(english_text, tmp_path):
    out = tmp_path / "run"
    train.train(english_text, out, max_steps=10, **RUN)
    before = (out / "last.npz").read_bytes()
    other = english_text.replace("T", "t") + "Quiz!"
    with pytest.raises(checkpoint.CheckpointError, match="different vocabulary") as info:
        _bad_resume(other, out)
    message = str(info.value)
    assert "only in checkpoint: 'T'" in message
    assert "only in corpus: '!Qz'" in message
    assert (out / "last.npz").read_bytes() == before


def test_checkpoint_with_other_text_same_vocabulary(english_text, tmp_path):
    out = tmp_path / "run"
    train.train(english_text, out, max_steps=10, **RUN)
    other = english_text[::-1]
    assert sorted(set(other)) == sorted(set(english_text))
    with pytest.raises(checkpoint.CheckpointError, match="different text"):
        _bad_resume(other, out)


def test_checkpoint_with_other_m(english_text, tmp_path):
    out = tmp_path / "run"
    train.train(english_text, out, max_steps=10, **RUN)
    before = (out / "last.npz").read_bytes()
    with pytest.raises(checkpoint.CheckpointError, match=r"m=8 there, 9 now"):
        _bad_resume(english_text, out, m=9)
    assert (out / "last.npz").read_bytes() == before


@pytest.mark.parametrize("name, value", [("eta", 0.2), ("seq_length", 11), ("seed", 4),
                                         ("val_fraction", 0.25), ("synth_every", 11)])
def test_checkpoint_with_other_settings(english_text, tmp_path, name, value):
    out = tmp_path / "run"
    train.train(english_text, out, max_steps=10, **RUN)
    with pytest.raises(checkpoint.CheckpointError, match=rf"{name}=.* there, {value!r} now"):
        _bad_resume(english_text, out, **{name: value})


def test_checkpoint_with_wrong_array_shape(english_text, tmp_path):
    out = tmp_path / "run"
    train.train(english_text, out, max_steps=10, **RUN)
    arrays, meta = checkpoint.load(out / "last.npz")
    arrays["best_V"] = arrays["best_V"][:, :-1]
    checkpoint.save(out / "last.npz", arrays, meta)
    with pytest.raises(checkpoint.CheckpointError, match="V has shape"):
        _bad_resume(english_text, out)


# ------------------------------------------------------------ model files read for sampling (issue 17)

def _small_model(tmp_path, K=4, m=3, **meta):
    params = rnn.init_params(K, m, 0.5, np.random.default_rng(0))
    path = tmp_path / "model.npz"
    checkpoint.save_model(path, params, list("abcd"[:K]), dict({"step": 5, "smooth_loss": 1.5}, **meta))
    return path, params


def test_load_model_gives_the_saved_model_bitwise(tmp_path):
    path, params = _small_model(tmp_path)
    loaded, vocab, meta = checkpoint.load_model(path)
    assert vocab == list("abcd") and meta["step"] == 5
    for name in rnn.PARAM_NAMES:
        assert loaded[name].dtype == np.float64 and loaded[name].tobytes() == params[name].tobytes()


@pytest.mark.parametrize("change, reason", [
    (lambda a, m: m.update(vocab=7), "its vocab is a number"),
    (lambda a, m: m.update(vocab=list("abcd")), "its vocab is an array"),
    (lambda a, m: a.update(V=a["V"].astype(str)), "parameter V is stored as strings"),
    (lambda a, m: a.update(b=a["b"].astype(complex)), "parameter b is stored as complex numbers"),
    (lambda a, m: a.update(U=a["U"][:, :2]), "U has shape (3, 2), expected (3, 4) for K=4, m=3"),
    (lambda a, m: m.update(records=True, boundary="ab", max_record_len=10), "its boundary 'ab' is not one"),
    (lambda a, m: m.update(records=True, boundary="a", max_record_len=0), "its max_record_len is 0"),
    (lambda a, m: m.update(smooth_loss="low"), "its smooth_loss is 'low', expected a number"),
])
def test_load_model_refuses_wrong_metadata_in_one_line(tmp_path, change, reason):
    path, _ = _small_model(tmp_path)
    arrays, meta = checkpoint.load(path)
    change(arrays, meta)
    checkpoint.save(path, arrays, meta)
    with pytest.raises(checkpoint.CheckpointError) as info:
        checkpoint.load_model(path)
    message = str(info.value)
    assert message.startswith(f"not a model file: {path} (") and reason in message and "\n" not in message


def test_load_model_refuses_what_would_overflow(tmp_path):
    path, params = _small_model(tmp_path)
    arrays, meta = checkpoint.load(path)
    arrays["W"] = arrays["W"] * 1e301   # finite, but W h overflows
    checkpoint.save(path, arrays, meta)
    with pytest.raises(checkpoint.CheckpointError, match="not a usable model: .* too large to compute with"):
        checkpoint.load_model(path)
    # The largest logit a temperature of MIN_TEMPERATURE still keeps far from overflow passes.
    arrays["W"] = params["W"]
    arrays["c"] = np.array([1e296, 0.0, 0.0, 0.0])
    checkpoint.save(path, arrays, meta)
    loaded, vocab, _ = checkpoint.load_model(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # an overflow would warn
        text = sampling.sample_text(loaded, vocab, 50, 0, checks.MIN_TEMPERATURE)
    assert text == "a" * 50  # the huge logit wins every draw
