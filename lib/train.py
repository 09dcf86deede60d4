"""The course's training protocol: AdaGrad over the book in seq_length chunks.

``train`` walks the text with a pointer e from 0: the inputs are
chars[e : e + seq_length], the targets chars[e + 1 : e + seq_length + 1], one
update per chunk, then e += seq_length. The hidden state is carried from chunk
to chunk and reset to zeros when an epoch starts; an epoch ends when fewer than
seq_length + 1 characters remain. smooth_loss starts at the first chunk's loss
and then follows 0.999 * smooth_loss + 0.001 * loss.

Steps count updates: "step s" is the state after s updates. Samples are drawn at
step 0 and every ``synth_every`` steps, from the current hidden state and the
next chunk's first input character. The best model is a copy of the parameters
after the update whose smooth loss is the lowest seen.

One ``seed`` decides everything through two independent generators: one for
the initial weights and one for the samples drawn during training, so drawing
more or fewer samples never changes the weights.
"""

import hashlib
import math
import time
from pathlib import Path

import numpy as np

from . import checkpoint, corpus, rnn

FORMAT_VERSION = 1
ADAGRAD_EPS = 1e-8
GRAD_CLIP = 5.0
LAST_CHECKPOINT = "last.npz"
BEST_MODEL = "best.npz"

# Settings that shape the run's trajectory or records: a resumed run must match them.
RUN_SETTINGS = ("m", "eta", "seq_length", "sigma", "seed", "val_fraction",
                "log_every", "synth_every", "synth_len", "eval_every")


class ConfigError(ValueError):
    """A training setting with an unusable value; the message names it."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step."""


def _check_positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _check_positive_number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive finite number, got {value!r}")


def check_settings(m, eta, seq_length, sigma, seed, epochs, max_steps, log_every,
                   synth_every, synth_len, eval_every, checkpoint_every):
    """Raise ConfigError naming the first setting that is not usable."""
    for name, value in (("m", m), ("seq_length", seq_length), ("epochs", epochs),
                        ("log_every", log_every), ("synth_every", synth_every),
                        ("synth_len", synth_len), ("eval_every", eval_every),
                        ("checkpoint_every", checkpoint_every)):
        _check_positive_int(name, value)
    _check_positive_int("max_steps", max_steps, allow_none=True)
    _check_positive_number("eta", eta)
    _check_positive_number("sigma", sigma)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")


def steps_per_epoch(n_train, seq_length):
    """Number of chunks (updates) in one pass over n_train characters."""
    return max(0, (n_train - 1) // seq_length)


def planned_steps(n_chars, val_fraction, seq_length, epochs, max_steps=None):
    """Total updates a run of these settings makes on a text of n_chars characters."""
    n_train = corpus.split_train_val(n_chars, val_fraction, seq_length)
    total = steps_per_epoch(n_train, seq_length) * epochs
    return total if max_steps is None else min(total, max_steps)


def adagrad_step(theta, grad, M, eta, work=None, clip=GRAD_CLIP, eps=ADAGRAD_EPS):
    """One AdaGrad update in place on flat arrays of equal shape.

    grad is clipped elementwise to [-clip, clip] in place, then
    M += grad^2 and theta -= eta * grad / sqrt(M + eps).
    ``work`` is an optional scratch array shaped like theta.
    """
    if work is None:
        work = np.empty_like(theta)
    np.clip(grad, -clip, clip, out=grad)
    np.multiply(grad, grad, out=work)
    M += work
    np.add(M, eps, out=work)
    np.sqrt(work, out=work)
    np.divide(grad, work, out=work)
    work *= eta
    theta -= work


def flat_views(flat, shapes):
    """Dict of views into the 1-D array flat, one per (name, shape), in order."""
    views, start = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        views[name] = flat[start:start + size].reshape(shape)
        start += size
    return views


def bits_per_char(params, data, chunk=4096):
    """Mean cross-entropy in bits of predicting data[1:] from data[:-1], from h = 0."""
    h = np.zeros(params["W"].shape[0])
    total = 0.0
    for start in range(0, len(data) - 1, chunk):
        x = data[start:start + chunk]
        y = data[start + 1:start + chunk + 1]
        x = x[:len(y)]
        part, h = rnn.loss(params, x, y, h)
        total += part
    return float(total / ((len(data) - 1) * math.log(2)))


def text_sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _empty_history():
    return {"step": [], "epoch": [], "loss": [], "smooth_loss": [], "val_bpc": []}


def _state_arrays(state):
    arrays = {}
    for prefix, d in (("param_", state["params"]), ("adagrad_", state["M"]), ("best_", state["best_params"])):
        for name in rnn.PARAM_NAMES:
            arrays[prefix + name] = d[name]
    arrays["h_prev"] = state["h_prev"]
    arrays["history_step"] = np.asarray(state["history"]["step"], dtype=np.int64)
    arrays["history_epoch"] = np.asarray(state["history"]["epoch"], dtype=np.int64)
    for key in ("loss", "smooth_loss", "val_bpc"):
        arrays["history_" + key] = np.asarray(state["history"][key], dtype=np.float64)
    arrays["epoch_starts"] = np.asarray(state["epoch_starts"], dtype=np.int64)
    return arrays


STATE_META = ("format", "kind", "vocab", "settings", "text_sha256", "n_chars", "n_train",
              "data_path", "step", "epoch", "pointer", "smooth_loss", "best_step",
              "best_smooth_loss", "sample_rng_state", "samples", "wall_seconds", "loop_seconds")


def save_state(path, state):
    """Write the whole training state to path atomically (see ``checkpoint.save``)."""
    meta = {k: state[k] for k in STATE_META if k not in ("format", "kind")}
    meta.update(format=FORMAT_VERSION, kind="checkpoint")
    checkpoint.save(path, _state_arrays(state), meta)


def save_model(path, params, vocab, meta):
    """Write a model file: parameters b, c, U, W, V, the vocabulary and meta."""
    meta = dict(meta, format=FORMAT_VERSION, kind="model", vocab="".join(vocab))
    checkpoint.save(path, {name: params[name] for name in rnn.PARAM_NAMES}, meta)


def load_model(path):
    """Read a model file (or the current parameters of a checkpoint).

    Returns:
        (params, vocab, meta): dict of arrays, list of characters, dict.
    """
    arrays, meta = checkpoint.load(path)
    checkpoint.require(path, meta, arrays, meta_keys=("kind", "vocab"))
    prefix = "param_" if meta["kind"] == "checkpoint" else ""
    checkpoint.require(path, meta, arrays, array_keys=[prefix + n for n in rnn.PARAM_NAMES])
    params = {n: arrays[prefix + n] for n in rnn.PARAM_NAMES}
    vocab = list(meta["vocab"])
    _check_shapes(path, params, len(vocab), params["W"].shape[0])
    return params, vocab, meta


def _check_shapes(path, params, K, m):
    for name, shape in rnn.param_shapes(K, m).items():
        if params[name].shape != shape:
            raise checkpoint.CheckpointError(
                f"checkpoint {path}: {name} has shape {params[name].shape}, "
                f"expected {shape} for K={K}, m={m}")


def load_state(path, vocab, text_hash, settings):
    """Read a checkpoint and check that it belongs to this corpus and these settings.

    Raises:
        CheckpointError: unreadable, or its vocabulary, text, shapes or
            settings differ from the ones given (the message says which).
    """
    arrays, meta = checkpoint.load(path)
    checkpoint.require(path, meta, arrays, meta_keys=STATE_META)
    if meta["kind"] != "checkpoint":
        raise checkpoint.CheckpointError(f"{path} is a {meta['kind']} file, not a training checkpoint")
    saved_vocab = list(meta["vocab"])
    if saved_vocab != list(vocab):
        only_ckpt = "".join(sorted(set(saved_vocab) - set(vocab)))
        only_text = "".join(sorted(set(vocab) - set(saved_vocab)))
        raise checkpoint.CheckpointError(
            f"checkpoint {path} was trained on a different vocabulary: K={len(saved_vocab)} there, "
            f"K={len(vocab)} in the corpus; only in checkpoint: {only_ckpt!r}, only in corpus: {only_text!r}")
    if meta["text_sha256"] != text_hash:
        raise checkpoint.CheckpointError(
            f"checkpoint {path} was trained on a different text ({meta['n_chars']} characters, "
            f"sha256 {meta['text_sha256'][:12]}...) than the one given")
    differ = [f"{k}={meta['settings'].get(k)!r} there, {settings[k]!r} now"
              for k in RUN_SETTINGS if meta["settings"].get(k) != settings[k]]
    if differ:
        raise checkpoint.CheckpointError(f"checkpoint {path} has other settings: " + "; ".join(differ))
    names = [p + n for p in ("param_", "adagrad_", "best_") for n in rnn.PARAM_NAMES]
    checkpoint.require(path, meta, arrays, array_keys=names + [
        "h_prev", "history_step", "history_epoch", "history_loss", "history_smooth_loss",
        "history_val_bpc", "epoch_starts"])
    K, m = len(vocab), settings["m"]
    for prefix in ("param_", "adagrad_", "best_"):
        _check_shapes(path, {n: arrays[prefix + n] for n in rnn.PARAM_NAMES}, K, m)
    if arrays["h_prev"].shape != (m,):
        raise checkpoint.CheckpointError(f"checkpoint {path}: h_prev has shape {arrays['h_prev'].shape}, expected ({m},)")
    state = dict(meta)
    for prefix, key in (("param_", "params"), ("adagrad_", "M"), ("best_", "best_params")):
        state[key] = {n: arrays[prefix + n] for n in rnn.PARAM_NAMES}
    state["h_prev"] = arrays["h_prev"]
    state["history"] = {
        "step": arrays["history_step"].tolist(), "epoch": arrays["history_epoch"].tolist(),
        "loss": arrays["history_loss"].tolist(), "smooth_loss": arrays["history_smooth_loss"].tolist(),
        "val_bpc": arrays["history_val_bpc"].tolist()}
    state["epoch_starts"] = arrays["epoch_starts"].tolist()
    return state


def _new_state(vocab, text_hash, n_chars, n_train, data_path, settings, init_rng, sample_rng):
    K, m = len(vocab), settings["m"]
    params = rnn.init_params(K, m, settings["sigma"], init_rng)
    return {
        "vocab": "".join(vocab), "settings": dict(settings), "text_sha256": text_hash,
        "n_chars": n_chars, "n_train": n_train, "data_path": data_path,
        "step": 0, "epoch": 1, "pointer": 0, "smooth_loss": None,
        "best_step": None, "best_smooth_loss": None,
        "sample_rng_state": sample_rng.bit_generator.state, "samples": [],
        "wall_seconds": 0.0, "loop_seconds": 0.0,
        "params": params, "M": {n: np.zeros_like(v) for n, v in params.items()},
        "best_params": {n: v.copy() for n, v in params.items()},
        "h_prev": np.zeros(m), "history": _empty_history(), "epoch_starts": [0],
    }


def train(text, out_dir=None, *, m=100, eta=0.1, seq_length=25, sigma=0.01, seed=0, epochs=10,
          max_steps=None, log_every=100, synth_every=10_000, synth_len=200,
          val_fraction=0.0, eval_every=10_000, checkpoint_every=10_000, resume=False,
          data_path=None, on_event=None):
    """Train the RNN on text with AdaGrad, the course's protocol (see the module docstring).

    Args:
        text: the training text (str); its sorted distinct characters are the vocabulary.
        out_dir: folder for ``last.npz`` (the full state, every ``checkpoint_every``
            steps and at the end) and ``best.npz`` (the best model); None writes nothing.
        m, eta, seq_length, sigma, seed: the model and optimiser settings.
        epochs: passes over the training text; max_steps: stop after this many
            updates in total (None: no limit).
        log_every: record (step, epoch, loss, smooth_loss) every this many steps.
        synth_every, synth_len: draw a synth_len-character sample at step 0 and every synth_every steps.
        val_fraction: share of the text at its end held out of training;
            every ``eval_every`` steps its loss in bits per character is recorded.
        resume: continue from ``out_dir/last.npz`` (which must match text and settings).
        data_path: where text came from, kept in the checkpoint for the record.
        on_event: called with a dict for each event: kind "log" (step, epoch,
            loss, smooth_loss, elapsed), "sample" (step, smooth_loss, text),
            "eval" (step, val_bpc), "epoch" (epoch, step), "checkpoint" (step, path).
    Returns:
        The final state dict: params, best_params, best_step, best_smooth_loss,
        smooth_loss, step, epoch, history (lists step, epoch, loss,
        smooth_loss, val_bpc), samples, epoch_starts, settings, timing,
        total_steps (planned), vocab (str) and vocab_list (list of characters).
    Raises:
        ConfigError, corpus.CorpusError, checkpoint.CheckpointError: bad input.
        TrainingDiverged: the loss became NaN or infinite (the last checkpoint is kept).
    """
    check_settings(m, eta, seq_length, sigma, seed, epochs, max_steps, log_every,
                   synth_every, synth_len, eval_every, checkpoint_every)
    if not isinstance(resume, (bool, np.bool_)):
        raise ConfigError(f"resume must be True or False, got {resume!r}")
    if not isinstance(text, str):
        raise corpus.CorpusError(f"text must be a str, got {type(text).__name__}")
    where = f"{data_path}: " if data_path is not None else ""
    if not text:
        raise corpus.CorpusError(f"{where}text is empty: nothing to train on")
    try:
        split = corpus.split_train_val(len(text), val_fraction, seq_length)
    except corpus.CorpusError as err:
        raise corpus.CorpusError(f"{where}{err}") from None
    vocab = corpus.build_vocab(text)
    data = corpus.encode(text, vocab)
    train_data, val_data = data[:split], data[split:]
    settings = {"m": int(m), "eta": float(eta), "seq_length": int(seq_length), "sigma": float(sigma),
                "seed": int(seed), "val_fraction": float(val_fraction), "log_every": int(log_every),
                "synth_every": int(synth_every), "synth_len": int(synth_len), "eval_every": int(eval_every)}
    text_hash = text_sha256(text)
    out_dir = None if out_dir is None else Path(out_dir)
    last_path = None if out_dir is None else out_dir / LAST_CHECKPOINT
    emit = on_event if on_event is not None else (lambda event: None)

    if not resume and last_path is not None and last_path.exists():
        raise ConfigError(f"out_dir {out_dir} already holds a run ({LAST_CHECKPOINT}); pass resume=True "
                          f"to continue it, or choose another out_dir (nothing was overwritten)")
    init_seq, sample_seq = np.random.SeedSequence(seed).spawn(2)
    sample_rng = np.random.default_rng(sample_seq)
    if resume:
        if last_path is None:
            raise ConfigError("resume=True needs an out_dir holding last.npz")
        if not last_path.is_file():
            raise checkpoint.CheckpointError(
                f"resume=True but there is no checkpoint to resume: {last_path} not found")
        state = load_state(last_path, vocab, text_hash, settings)
        sample_rng.bit_generator.state = state["sample_rng_state"]
    else:
        state = _new_state(vocab, text_hash, len(text), split, data_path, settings,
                           np.random.default_rng(init_seq), sample_rng)
    state["data_path"] = str(data_path) if data_path is not None else state.get("data_path")

    # All parameters live in one flat buffer so the update is a handful of numpy calls.
    shapes = rnn.param_shapes(len(vocab), m)
    size = sum(int(np.prod(s)) for s in shapes.values())
    theta, grad_flat, M, work = (np.empty(size) for _ in range(4))
    params, grads, M_views = flat_views(theta, shapes), flat_views(grad_flat, shapes), flat_views(M, shapes)
    best_flat = np.empty(size)
    best_params = flat_views(best_flat, shapes)
    for name in rnn.PARAM_NAMES:
        params[name][...] = state["params"][name]
        M_views[name][...] = state["M"][name]
        best_params[name][...] = state["best_params"][name]
    state["params"], state["M"], state["best_params"] = params, M_views, best_params

    n_train = len(train_data)
    total_steps = planned_steps(len(text), val_fraction, seq_length, epochs, max_steps)
    state["total_steps"] = total_steps
    step, epoch, e = state["step"], state["epoch"], state["pointer"]
    h_prev = np.array(state["h_prev"], dtype=float)
    smooth_loss = state["smooth_loss"]
    best_smooth = state["best_smooth_loss"]
    history = state["history"]
    start_time = time.perf_counter()
    wall_before = state["wall_seconds"]
    loop_seconds = 0.0
    loop_before = state["loop_seconds"]
    steps_here = 0

    def sync():
        state.update(step=step, epoch=epoch, pointer=e, h_prev=h_prev.copy(), smooth_loss=smooth_loss,
                     best_smooth_loss=best_smooth, sample_rng_state=sample_rng.bit_generator.state,
                     wall_seconds=wall_before + time.perf_counter() - start_time,
                     loop_seconds=loop_before + loop_seconds)

    def write_files():
        if out_dir is None:
            return
        sync()
        save_state(last_path, state)
        if state["best_step"] is not None:
            save_model(out_dir / BEST_MODEL, best_params, vocab, {
                "step": state["best_step"], "smooth_loss": best_smooth,
                "settings": settings, "data_path": state["data_path"], "n_chars": len(text)})
        emit({"kind": "checkpoint", "step": step, "path": str(last_path)})

    while step < total_steps:
        if e + seq_length + 1 > n_train:
            epoch += 1
            e = 0
            h_prev[:] = 0.0
            state["epoch_starts"].append(step)
            emit({"kind": "epoch", "epoch": epoch, "step": step})
        x = train_data[e:e + seq_length]
        if step % synth_every == 0:
            drawn = rnn.synthesize(params, h_prev, x[0], synth_len, sample_rng)
            sample = {"step": step, "smooth_loss": smooth_loss, "text": corpus.decode(drawn, vocab)}
            state["samples"].append(sample)
            emit(dict(sample, kind="sample"))

        tick = time.perf_counter()
        loss, _, h_last = rnn.loss_and_grads(params, x, train_data[e + 1:e + seq_length + 1], h_prev, grads)
        if not math.isfinite(loss):
            kept = f"the last good checkpoint {last_path} is kept" if last_path is not None and last_path.exists() \
                else "no checkpoint was written"
            raise TrainingDiverged(
                f"training diverged: loss became {loss} at step {step + 1} (epoch {epoch}, eta={eta}); "
                f"stopped, {kept}")
        adagrad_step(theta, grad_flat, M, eta, work)
        h_prev[:] = h_last
        smooth_loss = loss if smooth_loss is None else 0.999 * smooth_loss + 0.001 * loss
        step += 1
        e += seq_length
        if best_smooth is None or smooth_loss < best_smooth:
            best_smooth = smooth_loss
            state["best_step"] = step
            best_flat[:] = theta
        loop_seconds += time.perf_counter() - tick
        steps_here += 1

        evaluate = len(val_data) > 0 and step % eval_every == 0
        if step % log_every == 0 or evaluate:
            val_bpc = bits_per_char(params, val_data) if evaluate else math.nan
            for key, value in (("step", step), ("epoch", epoch), ("loss", loss),
                               ("smooth_loss", smooth_loss), ("val_bpc", val_bpc)):
                history[key].append(value)
            if evaluate:
                emit({"kind": "eval", "step": step, "val_bpc": val_bpc})
            emit({"kind": "log", "step": step, "epoch": epoch, "loss": loss,
                  "smooth_loss": smooth_loss, "elapsed": time.perf_counter() - start_time})
        if step % checkpoint_every == 0:
            write_files()

    if step % checkpoint_every != 0 or steps_here == 0:
        write_files()
    sync()
    # Time per update over the whole run (all sessions of a resumed one): a resume
    # with nothing left to do still reports the run's speed.
    state["timing"] = {"steps_this_session": steps_here, "loop_seconds": loop_seconds,
                       "us_per_step": 1e6 * state["loop_seconds"] / step if step else None}
    state["vocab_list"] = vocab
    return state
