"""The course's training protocol: an optimizer over the book in seq_length chunks.

``train`` builds the run's parts (lib.training.parts: the model, the optimizer and the
walk, from the settings of lib.training.settings and the handout's ``protocol``) and hands
them to ``loop``. The course's walk takes the text with a pointer e from 0: the inputs are
chars[e : e + seq_length], the targets chars[e + 1 : e + seq_length + 1], one
update per chunk, then e += seq_length. The hidden state is carried from chunk
to chunk and reset to zeros when an epoch starts; an epoch ends when fewer than
seq_length + 1 characters remain. smooth_loss starts at the first chunk's loss
and then follows 0.999 * smooth_loss + 0.001 * loss.

Steps count updates: "step s" is the state after s updates. Samples are drawn at
step 0 and every ``synth_every`` steps, from the current hidden state and the
next chunk's first input character. The best model is a copy of the parameters
after the update whose smooth loss is the lowest seen.

One ``seed`` decides everything through independent generators: one for
the initial weights and one for the samples drawn during training, so drawing
more or fewer samples never changes the weights, and one per epoch for the
order of the "chunks" and "random" orders (lib.training.parts.order_rng).

``order``, ``chunks``, ``val_chunk`` and ``batch_size`` change the walk (lib.training.parts:
its docstring defines each order and what an epoch is). With ``batch_size`` B > 1 each update
takes B sequences, its loss and gradients the batch's means (lib.rnn.loss_and_grads_batch),
and the hidden state is (B, m), one row per stream; the samples start from the first
stream's. ``val_chunk`` is a held-out set like the ``val_fraction`` tail or a held-out text,
one at a time: its bits per character are recorded every ``eval_every`` steps.
"""

import hashlib
import math
import time
from pathlib import Path

import numpy as np

from lib import checks, network
from lib.text import corpus
from lib.training import checkpoint, parts, stopping
from lib.training import settings as table

LAST_CHECKPOINT = checkpoint.LAST_CHECKPOINT
BEST_MODEL = checkpoint.BEST_MODEL
SETTING_KINDS = {name: table.RULES[name] for name in table.TRAIN_SETTINGS}
RUN_SETTINGS = table.RUN_SETTINGS
stream_chunks = parts.stream_chunks

ConfigError = checks.ParameterError


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step."""


def check_settings(**settings):
    """The run's full settings (lib.training.settings.resolve) from those given, checked;
    ConfigError names the first bad one."""
    unknown = sorted(set(settings) - set(SETTING_KINDS))
    if unknown:
        raise ConfigError(f"unknown training setting {unknown[0]!r}")
    given = checks.check_all({k: SETTING_KINDS[k] for k in settings}, settings)
    for name in table.PROTOCOL_SETTINGS:  # None leaves a protocol's setting to the protocol, but clip
        if given.get(name, 0) is None and name != "clip":
            del given[name]
    if given.get("clip") is False:
        given["clip"] = None
    try:
        return table.resolve(**given)[0]
    except table.SettingsError as err:
        raise ConfigError(str(err)) from None


steps_per_epoch = parts.steps_per_epoch


def walk_steps(n_train, settings):
    """Updates per epoch of the walk of these settings (order, chunks, val_chunk, batch_size) through
    n_train training characters; ConfigError names a setting the text is too short for."""
    return len(parts.make_walk(n_train, settings)(1)[0])


def check_order_fits(settings, record_mode, heldout_text):
    """ConfigError for an order, a batch or a val_chunk that does not fit the rest of the run."""
    if record_mode:
        usual = dict(table.DEFAULTS, **table.PROTOCOLS[settings["protocol"]])
        moved = [f"{name}={settings[name]!r}" for name in ("order", "chunks", "val_chunk", "batch_size")
                 if settings[name] != usual[name]]
        if moved:
            raise ConfigError(f"{moved[0]} is for a stream of text: record mode (records=True) walks its records, "
                              f"one sequence each, in a new random order every epoch; leave order, chunks, "
                              f"val_chunk and batch_size at their defaults")
    if settings["val_chunk"] is not None:
        if settings["val_fraction"] > 0:
            raise ConfigError(f"val_chunk={settings['val_chunk']} with val_fraction={settings['val_fraction']}: "
                              f"one held-out set at a time; give val_fraction 0")
        if heldout_text is not None:
            raise ConfigError(f"val_chunk={settings['val_chunk']} with a held-out text: one held-out set at a time")


def bits_per_char(params, data, chunk=4096):
    """Mean cross-entropy in bits of predicting data[1:] from data[:-1], from the zero state
    (lib.network.bits_per_char, for any network)."""
    return network.bits_per_char(params, data, chunk)


def text_sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _new_state(vocab, text_hash, n_chars, n_train, data_path, settings, init_rng, sample_rng):
    params = network.init_params(settings, len(vocab), init_rng)
    batch = settings["batch_size"]
    return {
        "vocab": "".join(vocab), "settings": dict(settings), "text_sha256": text_hash,
        "n_chars": n_chars, "n_train": n_train, "data_path": data_path,
        "step": 0, "epoch": 1, "chunk": 0, "smooth_loss": None,
        "best_step": None, "best_smooth_loss": None,
        "sample_rng_state": sample_rng.bit_generator.state, "samples": [], "epoch_ends": [],
        "wall_seconds": 0.0, "loop_seconds": 0.0,
        "params": params, "optimizer": None, "best_params": {n: v.copy() for n, v in params.items()},
        "h_prev": network.pack_state(params, network.init_state(params, batch)), "epoch_starts": [0],
        "history": {k: [] for k in checkpoint.HISTORY_KEYS},
    }


def train(text, out_dir=None, *, resume=False, data_path=None, on_event=None, heldout_text=None,
          snapshot_epochs=(), record_mode=None, **settings):
    """Train the RNN on text by the course's protocol (see the module docstring).

    Args:
        text: the training text (str); its sorted distinct characters are the vocabulary.
        out_dir: folder for ``last.npz`` (the full state, every ``checkpoint_every``
            steps and at the end) and ``best.npz`` (the best model); None writes nothing.
        settings: those of lib.training.settings.TRAIN_SETTINGS; ``protocol`` ("2021", the
            default, or "2026") sets m, eta, seq_length, optimizer, loss, init, sigma and clip,
            and any of them given here overrides it (clip=None: no clipping). The others:
            beta1, beta2, eps (the optimizer's), seed, fast (False: train on lib/rnn.py itself),
            epochs; max_steps, stop after this many updates in total (None: no limit);
            log_every, record (step, epoch, loss, smooth_loss) every this many steps;
            synth_every, synth_len, a synth_len-character sample at step 0 and every
            synth_every steps; val_fraction, the share of the text at its end held out of
            training, its bits per character recorded every ``eval_every`` steps;
            order, chunks, val_chunk (a piece held out instead) and batch_size, the walk
            (see the module docstring); checkpoint_every.
        resume: continue from ``out_dir/last.npz`` (which must match text and settings).
        data_path: where text came from, kept in the checkpoint for the record.
        heldout_text: a text the model never trains on (with val_fraction 0), whose bits
            per character are recorded every ``eval_every`` steps in place of a held-out tail.
        snapshot_epochs: epochs at whose end the whole state is also written to
            ``out_dir/epochs_<k>/`` (last.npz and best.npz): the end of a run of k
            epochs, bitwise, without training it separately.
        on_event: called with a dict for each event: kind "log" (step, epoch,
            loss, smooth_loss, elapsed), "sample" (step, smooth_loss, text),
            "eval" (step, val_bpc), "epoch" (epoch, step), "checkpoint" (step, path).
        record_mode: None (the course's stream) or record mode, as lib.records.record_walk.record_mode
            makes it: a dict with "boundary" (text is records.join's output), "settings"
            (kept with the run's settings), "facts" (kept in the model file and the
            summary), and the three steps that differ from the stream: "split_text"
            (text, boundary, val_fraction) -> where training ends, "epoch_walk"
            (train_data, boundary_index, seq_length, seed) -> (epoch -> chunks), and
            "heldout_bits" (params, val_data, boundary_index) -> bits per character.
    Returns:
        The final state dict: params, best_params, best_step, best_smooth_loss,
        smooth_loss, step, epoch, history (lists step, epoch, loss,
        smooth_loss, val_bpc), samples, epoch_starts, epoch_ends (one record per
        finished epoch: its last step, smooth loss and the best so far), settings,
        timing, total_steps (planned), vocab (str) and vocab_list (list of characters).
    Raises:
        ConfigError, corpus.CorpusError, checkpoint.CheckpointError: bad input.
        TrainingDiverged: the loss became NaN or infinite (the last checkpoint is kept).
    """
    run = _Run(text, out_dir, settings, resume=resume, data_path=data_path, on_event=on_event,
               heldout_text=heldout_text, snapshot_epochs=snapshot_epochs, record_mode=record_mode)
    # An interrupt ends the loop between two updates; finish() writes the checkpoint there (lib.training.stopping).
    with stopping.between_updates(lambda: run.state["step"]) as run.stop:
        state = loop(run, run.model, run.optimizer, run.walk)
    return state


def loop(run, model, optimizer, walk):
    """The course's loop: for each chunk of the walk, loss and gradients, one optimizer update,
    the smooth loss and the best model; ``run`` (a _Run) keeps the state, the samples and the files."""
    state, data, synth_every = run.state, run.train_data, run.settings["synth_every"]
    starts, lengths, resets = walk(state["epoch"])
    h_prev = network.unpack_state(model.params, state["h_prev"])   # a tuple: (h,), or (h, c) for each layer
    while state["step"] < run.total_steps and not run.stop.requested:
        if state["chunk"] == len(starts):
            run.start_next_epoch()
            starts, lengths, resets = walk(state["epoch"])
        i, step = state["chunk"], state["step"]
        if resets[i].any():                               # an epoch's (record's, piece's) first chunk, a random start
            h_prev = parts.zero_states(h_prev, resets[i])
        x, y = parts.sequences(data, starts[i], lengths[i])   # inputs, and the targets one character on
        if step % synth_every == 0:
            run.draw_sample(h_prev, x)

        tick = time.process_time()  # CPU time: runs sharing a core are not charged for waiting
        loss, h_prev = model.loss_and_grads(x, y, h_prev, step + 1)
        run.stop_if_diverged(loss)
        optimizer.step()
        smooth = loss if state["smooth_loss"] is None else 0.999 * state["smooth_loss"] + 0.001 * loss
        step += 1
        state.update(step=step, chunk=i + 1, smooth_loss=smooth, h_prev=network.pack_state(model.params, h_prev))
        if state["best_smooth_loss"] is None or smooth < state["best_smooth_loss"]:
            state.update(best_smooth_loss=smooth, best_step=step)
            model.keep_best()
        run.loop_seconds += time.process_time() - tick

        run.record_step(loss, epoch_ended=i + 1 == len(starts))
    return run.finish()


class _Run:
    """What train() keeps around its loop: the checked settings and data, the state that a
    checkpoint holds, the events, the evaluations and the files."""

    def __init__(self, text, out_dir, settings, *, resume, data_path, on_event, heldout_text,
                 snapshot_epochs, record_mode):
        given = check_settings(**settings)
        check_order_fits(given, record_mode is not None, heldout_text)
        resume = checks.check("resume", resume, "bool")
        if not isinstance(text, str):
            raise corpus.CorpusError(f"text must be a str, got {type(text).__name__}")
        where = f"{data_path}: " if data_path is not None else ""
        if not text:
            raise corpus.CorpusError(f"{where}text is empty: nothing to train on")
        boundary = None if record_mode is None else record_mode["boundary"]
        try:
            split = corpus.split_train_val(len(text), given["val_fraction"], given["seq_length"]) \
                if boundary is None else record_mode["split_text"](text, boundary, given["val_fraction"])
        except corpus.CorpusError as err:
            raise corpus.CorpusError(f"{where}{err}") from None
        vocab = corpus.build_vocab(text)
        data = corpus.encode(text, vocab)
        # Record mode: the held-out records start at the closing boundary of the last training one.
        self.train_data, self.val_data = data[:split], data[split - (boundary is not None and split < len(data)):]
        if boundary is None:
            # Checked before anything is read or written: the text may be too short for the order.
            self.walk = parts.make_walk(split, given)
            self.train_data, piece = parts.split_pieces(self.train_data, given["chunks"], given["val_chunk"])
            if piece is not None:
                self.val_data = piece
        run_settings = {k: given[k] for k in RUN_SETTINGS}
        if heldout_text is not None:
            if given["val_fraction"] > 0:
                raise ConfigError("val_fraction must be 0 when a held-out text is given (one held-out set at a time)")
            if not isinstance(heldout_text, str) or len(heldout_text) < 2:
                raise corpus.CorpusError("heldout_text must be a text of at least 2 characters")
            self.val_data = corpus.encode(heldout_text, vocab, what="the held-out text")
            run_settings["heldout_sha256"] = text_sha256(heldout_text)
        self.snapshot_epochs = checks.check("snapshot_epochs", snapshot_epochs, "list of positive_int", empty=True)
        if record_mode is not None:
            run_settings.update(record_mode["settings"])
        text_hash = text_sha256(text)
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.last_path = None if out_dir is None else self.out_dir / LAST_CHECKPOINT
        self.emit = on_event if on_event is not None else (lambda event: None)

        if not resume and self.last_path is not None and self.last_path.exists():
            raise ConfigError(f"out_dir {out_dir} already holds a run ({LAST_CHECKPOINT}); continue it, "
                              f"or choose another out_dir (nothing was overwritten)")
        init_seq, sample_seq = np.random.SeedSequence(given["seed"]).spawn(2)
        self.sample_rng = np.random.default_rng(sample_seq)
        if resume:
            if self.last_path is None:
                raise ConfigError("resume=True needs an out_dir holding last.npz")
            if not self.last_path.is_file():
                raise checkpoint.CheckpointError(
                    f"resume=True but there is no checkpoint to resume: {self.last_path} not found")
            state = checkpoint.load_state(self.last_path, vocab, text_hash, run_settings)
            self.sample_rng.bit_generator.state = state["sample_rng_state"]
        else:
            state = _new_state(vocab, text_hash, len(text), split, data_path, run_settings,
                               np.random.default_rng(init_seq), self.sample_rng)
        state["data_path"] = str(data_path) if data_path is not None else state.get("data_path")
        if boundary is None:
            self.val_bits = lambda params: bits_per_char(params, self.val_data)
        else:
            b = vocab.index(boundary)
            self.walk = record_mode["epoch_walk"](self.train_data, b, given["seq_length"], given["seed"])
            self.val_bits = lambda params: record_mode["heldout_bits"](params, self.val_data, b)
            state["records"] = dict(record_mode["facts"], boundary=boundary)
        # Every epoch has the same number of chunks (records: the same records, reordered).
        state["steps_per_epoch"] = len(self.walk(state["epoch"])[0])
        total = state["steps_per_epoch"] * given["epochs"]
        cut = given["max_steps"]
        self.total_steps = state["total_steps"] = total if cut is None else min(total, cut)
        self.model = parts.make_model(state["params"], state["best_params"], given)
        self.optimizer = parts.make_optimizer(self.model, given, state["optimizer"])
        self.optimizer.eta = parts.epoch_eta(given, state["epoch"])
        state.update(params=self.model.params, best_params=self.model.best, optimizer=self.optimizer.state(),
                     h_prev=np.array(state["h_prev"], dtype=self.model.params["V"].dtype))
        self.state, self.settings, self.run_settings, self.vocab = state, given, run_settings, vocab
        self.text_chars, self.boundary = len(text), boundary
        self.session_start = time.perf_counter()
        self.wall_before, self.loop_before = state["wall_seconds"], state["loop_seconds"]
        self.loop_seconds, self.steps_here = 0.0, 0

    def start_next_epoch(self):
        state = self.state
        state["epoch"] += 1
        state["chunk"] = 0
        state["epoch_starts"].append(state["step"])
        self.optimizer.eta = parts.epoch_eta(self.settings, state["epoch"])
        self.emit({"kind": "epoch", "epoch": state["epoch"], "step": state["step"]})

    def draw_sample(self, state, x):
        """A sample from the state (a tuple) and the next chunk's inputs x (a batch: its first stream's)."""
        state = network.first_stream(self.model.params, state)
        if x.ndim == 2:
            x = x[0]
        drawn = network.synthesize(self.model.params, state, x[0], self.settings["synth_len"], self.sample_rng)
        sample = {"step": self.state["step"], "smooth_loss": self.state["smooth_loss"],
                  "text": corpus.decode(drawn, self.vocab)}
        self.state["samples"].append(sample)
        self.emit(dict(sample, kind="sample"))

    def stop_if_diverged(self, loss):
        if not math.isfinite(loss):
            kept = f"the last good checkpoint {self.last_path} is kept" \
                if self.last_path is not None and self.last_path.exists() else "no checkpoint was written"
            raise TrainingDiverged(
                f"training diverged: loss became {loss} at step {self.state['step'] + 1} "
                f"(epoch {self.state['epoch']}, eta={self.settings['eta']}); stopped, {kept}")

    def record_step(self, loss, epoch_ended):
        """After an update: the epoch's record, the history, evaluations, events and files."""
        state, settings = self.state, self.settings
        step, smooth = state["step"], state["smooth_loss"]
        self.steps_here += 1
        if epoch_ended:
            state["epoch_ends"].append({"epoch": state["epoch"], "step": step, "smooth_loss": smooth,
                                        "best_step": state["best_step"],
                                        "best_smooth_loss": state["best_smooth_loss"]})
        evaluate = len(self.val_data) > 0 and step % settings["eval_every"] == 0
        if step % settings["log_every"] == 0 or evaluate:
            val_bpc = self.val_bits(self.model.params) if evaluate else math.nan
            for key, value in zip(checkpoint.HISTORY_KEYS, (step, state["epoch"], loss, smooth, val_bpc)):
                state["history"][key].append(value)
            if evaluate:
                self.emit({"kind": "eval", "step": step, "val_bpc": val_bpc})
            self.emit({"kind": "log", "step": step, "epoch": state["epoch"], "loss": loss,
                       "smooth_loss": smooth, "elapsed": time.perf_counter() - self.session_start})
        if step % settings["checkpoint_every"] == 0:
            self.write_files()
        if epoch_ended and state["epoch"] in self.snapshot_epochs and self.out_dir is not None:
            self.write_files(self.out_dir / f"epochs_{state['epoch']}")

    def write_files(self, folder=None):
        state = self.state
        folder = self.out_dir if folder is None else folder
        state["wall_seconds"] = self.wall_before + time.perf_counter() - self.session_start
        state["loop_seconds"] = self.loop_before + self.loop_seconds
        state["sample_rng_state"] = self.sample_rng.bit_generator.state
        state["optimizer"] = self.optimizer.state()
        if folder is None:
            return
        checkpoint.save_state(folder / LAST_CHECKPOINT, state)
        if state["best_step"] is not None:
            checkpoint.save_model(folder / BEST_MODEL, state["best_params"], self.vocab, {
                "step": state["best_step"], "smooth_loss": state["best_smooth_loss"],
                "settings": self.run_settings, "data_path": state["data_path"], "n_chars": self.text_chars,
                **({} if self.boundary is None else dict(state["records"], records=True))})
        self.emit({"kind": "checkpoint", "step": state["step"], "path": str(folder / LAST_CHECKPOINT)})

    def finish(self):
        state = self.state
        if state["step"] % self.settings["checkpoint_every"] != 0 or self.steps_here == 0:
            self.write_files()
        # Time per update over the whole run (all sessions of a resumed one): a resume
        # with nothing left to do still reports the run's speed.
        state["timing"] = {"steps_this_session": self.steps_here, "loop_seconds": self.loop_seconds,
                           "us_per_step": 1e6 * state["loop_seconds"] / state["step"] if state["step"] else None}
        state["vocab_list"] = self.vocab
        return state
