"""A finished run's files: the closing sample, summary.json, history.csv, samples.jsonl and the
loss figure, written all or nothing, then its status; and the same for an epoch snapshot."""

import numpy as np

from lib import network
from lib.inside import ngram
from lib.text import corpus
from lib.training import checkpoint, loss_plot, parts, run_files, run_folder, train
from lib.training.resume import run_facts


def final_sample(run, state):
    """A sample from the model after the last update, where the samples drawn every synth_every
    stop short of it (None when the last one was drawn there).

    Drawn with a generator of its own (the run seed's third stream, beside the weights' and the
    samples'), so it changes nothing a continued or longer run computes; it starts as a sample
    during training would: from the hidden state after the last update and the character read
    next (in record mode, from a zero state and the boundary, as every record starts)."""
    samples = state["samples"]
    if samples and samples[-1]["step"] == state["step"]:
        return None
    settings = state["settings"]
    vocab = list(run["vocab"])
    params = state["params"]
    if run.get("records"):
        h0, x0 = network.init_state(params), vocab.index(run["records"]["boundary"])
    else:
        # (With a batch, from its first stream; in the chunks and random orders the character at the
        # course walk's position stands in for the next one, which only the walk knows.)
        h0 = network.first_stream(params, network.unpack_state(params, state["h_prev"]))
        x0 = vocab.index(run["text"][state["chunk"] * settings["seq_length"]])
    rng = np.random.default_rng(np.random.SeedSequence(settings["seed"], spawn_key=(2,)))
    drawn = network.synthesize(params, h0, x0, settings["synth_len"], rng)
    return {"step": state["step"], "smooth_loss": state["smooth_loss"], "text": corpus.decode(drawn, vocab)}


def validation_chunk(run, state):
    """The summary's "heldout" of a run with a val_chunk: the piece, and the bits per character on it of the
    best model and of the model at the end (the history holds those of every eval_every updates)."""
    settings = state["settings"]
    start, end = parts.validation_piece(state["n_train"], settings["chunks"], settings["val_chunk"])
    data = corpus.encode(run["text"][start:end], run["vocab"])
    return {"name": f"validation chunk {settings['val_chunk']} of {settings['chunks']} (characters "
                    f"{start:,} to {end:,} of the text)", "chars": end - start,
            "best_bpc": train.bits_per_char(state["best_params"], data),
            "final_bpc": train.bits_per_char(state["params"], data)}


def against_ngrams(run, state, heldout):
    """The summary's "against_ngrams": the held-out bits per character of the best model (by smooth loss) and of
    the last, beside those of Kneser-Ney n-grams of orders 1 .. 8 fitted on the same training text
    (lib.inside.ngram.baselines), on whatever the run held out (a held-out text, its val_fraction tail or its
    val_chunk); None when it held nothing out."""
    settings, vocab = state["settings"], run["vocab"]
    data = corpus.encode(run["text"], vocab)
    training, held = data[:state["n_train"]], data[state["n_train"]:]
    name = f"the last {len(held):,} characters of the text"
    if run["heldout"]:
        held, name = corpus.encode(run["heldout"]["text"], vocab), run["heldout"]["name"]
    elif settings.get("val_chunk") is not None:
        training, held = parts.split_pieces(training, settings["chunks"], settings["val_chunk"])
        name = f"validation chunk {settings['val_chunk']} of {settings['chunks']}"
    if len(held) < 2:
        return None
    best = heldout["best_bpc"] if heldout else train.bits_per_char(state["best_params"], held)
    final = heldout["final_bpc"] if heldout else train.bits_per_char(state["params"], held)
    return {"text": name, "chars": len(held), "best_bpc": best, "final_bpc": final,
            "ngram": ngram.baselines(training, held, len(vocab))}


def finish(run, folder, state, epochs, facts):
    """Write a finished state's run files and loss figure, then its status; returns the summary.

    All or nothing: if any of them fails (a full disk, an interrupt), those written are
    removed, so a folder whose status says running holds none of them."""
    heldout = None
    if run["heldout"]:
        data = corpus.encode(run["heldout"]["text"], run["vocab"])
        heldout = {"name": run["heldout"]["name"], "chars": len(run["heldout"]["text"]),
                   "best_bpc": train.bits_per_char(state["best_params"], data),
                   "final_bpc": train.bits_per_char(state["params"], data)}
    elif state["settings"].get("val_chunk") is not None:
        heldout = validation_chunk(run, state)
    against = None if run.get("records") else against_ngrams(run, state, heldout)
    closing = final_sample(run, state)
    if closing is not None:
        state = dict(state, samples=state["samples"] + [closing])
    with run_files.derived_files(folder):
        summary = run_files.write_training_run(folder, state, epochs, run["data_file"], heldout, against)
        loss_plot.save_loss_figure(run_files.read_history(folder), summary, folder)
        run_folder.write_status(folder, "finished", step=state["step"], **facts)
    return summary


def finish_snapshot(run, folder, epochs):
    """Make epochs_<k>/, written by train at the end of epoch k, a finished run folder of its own."""
    status = run_folder.read_status(folder)
    if status is not None and status["state"] == "finished":
        return
    snapshot = dict(run, parameters=dict(run["parameters"], epochs=epochs, max_steps=None, snapshot_epochs=[]))
    snapshot["planned_steps"] = epochs * run["steps_per_epoch"]
    state = checkpoint.load_state(folder / checkpoint.LAST_CHECKPOINT, run["vocab"], run["text_sha256"])
    state["steps_per_epoch"] = run["steps_per_epoch"]
    state["timing"] = {"us_per_step": 1e6 * state["loop_seconds"] / state["step"]}
    finish(snapshot, folder, state, epochs, run_facts(snapshot))
