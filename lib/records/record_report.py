"""The report's "Bonus: short texts" section, computed from a record-mode run (lib.records)."""

from pathlib import Path

import numpy as np

from lib.records import record_files, record_sampling, record_walk
from lib.text import corpus
from lib.training import checkpoint, run_files, run_folder, train
from lib.training.run_files import ArtifactError

SAMPLE_SEED = 0
SHOWN = 20          # records printed in the report
FOR_LENGTHS = 1000  # records drawn for the length distribution


def load(run_dir):
    """Everything the section shows, read and checked before anything is rendered.

    Raises ArtifactError naming the file when the run is unfinished, not a record-mode run,
    or its records file no longer holds the text it was trained on.
    """
    run_dir = Path(run_dir)
    try:
        status = run_folder.require_finished(run_dir)
    except run_folder.RunFolderError as err:
        raise ArtifactError(str(err)) from None
    summary = run_files.read_summary(run_dir)
    facts = summary.get("records")
    if not isinstance(facts, dict) or "boundary" not in facts:
        raise ArtifactError(f"{run_dir / 'summary.json'} is not a record-mode run (train it with records=True)")
    try:
        params, vocab, meta = checkpoint.load_model(run_dir / checkpoint.BEST_MODEL)
        prepared = record_walk.prepare_run(summary["data_path"], facts["record_field"], facts["max_record_len"],
                                       False, summary["val_fraction"], summary["seq_length"], 1, None)
    except checkpoint.CheckpointError as err:
        raise ArtifactError(str(err)) from None
    except corpus.CorpusError as err:
        raise ArtifactError(f"the records {run_dir} was trained on cannot be read again: {err}") from None
    text, boundary = prepared["text"], facts["boundary"]
    if train.text_sha256(text) != status["text_sha256"] or prepared["boundary"] != boundary:
        raise ArtifactError(f"{summary['data_path']} has changed since {run_dir} was trained on it: "
                            f"train it again (make report does)")
    data = corpus.encode(text, vocab)
    split = record_walk.split_text(text, boundary, summary["val_fraction"])
    all_records = record_files.split_records(text, boundary)
    return {"dir": run_dir, "summary": summary, "facts": facts, "params": params, "vocab": vocab,
            "boundary": boundary, "records": all_records, "n_train": facts["n_train_records"],
            "train_data": data[:split], "val_data": data[split - 1:] if split < len(data) else data[:0]}


def introduction(bonus):
    s, f = bonus["summary"], bonus["facts"]
    cut = f"{f['cut']:,} were cut to {f['max_record_len']}" if f["cut"] else \
        f"every speech of at most {f['max_record_len']} characters"
    return (f"The course's bonus trains the same RNN on short texts, each one sequence: a boundary character, "
            f"the text, the boundary again, the hidden state zero at every text's start, and generated texts "
            f"end at the boundary or at {f['max_record_len']} characters. Here the texts are *Shakespeare in "
            f"{f['max_record_len']} characters*, {cut}: the {f['n_records']:,} short speeches of the corpus, "
            f"speaker names left out (`{Path(s['data_path']).name}`, K = {s['K']} with the boundary). The last "
            f"{f['n_val_records']:,} speeches in the order of the plays are held out; the model "
            f"(m = {s['m']}, η = {s['eta']}, seq_length = {s['seq_length']}, seed {s['seed']}) trained for "
            f"{s['epochs']} epochs over the other {f['n_train_records']:,}, visited in a new order each "
            f"epoch ({s['steps']:,} updates).")


def generated(bonus, count=SHOWN, seed=SAMPLE_SEED):
    """count records from the best model, shown as printed text (a newline inside one as ↵)."""
    drawn = record_sampling.sample_records(bonus["params"], bonus["vocab"], bonus["boundary"], count, seed,
                                   bonus["facts"]["max_record_len"])
    return [record_files.visible(r, bonus["boundary"], bonus["vocab"]) for r in drawn]


def generated_note(bonus, count=SHOWN, seed=SAMPLE_SEED):
    return (f"{count} speeches drawn whole from the best model (update {bonus['summary']['best_step']:,}), "
            f"sampling seed {seed}, one per line; ↵ marks a line break inside a speech.")


def length_figure(bonus, n=FOR_LENGTHS, seed=SAMPLE_SEED + 1):
    """(figure, caption): the lengths of n generated records against the data's."""
    import matplotlib.pyplot as plt

    cap = bonus["facts"]["max_record_len"]
    drawn = record_sampling.sample_records(bonus["params"], bonus["vocab"], bonus["boundary"], n, seed, cap)
    gen = np.array([len(r) for r in drawn])
    data = np.array([len(r) for r in bonus["records"]])
    fig, ax = plt.subplots(figsize=(8, 3.2))
    bins = np.arange(0, cap + 11, 10)
    ax.hist(data, bins=bins, density=True, alpha=0.5, color="C0", label=f"the data ({len(data):,} speeches)")
    ax.hist(gen, bins=bins, density=True, histtype="step", lw=1.8, color="C3",
            label=f"generated ({n:,}, best model)")
    ax.set_xlabel("characters per speech")
    ax.set_ylabel("share per character")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    at_cap = int((gen >= cap).sum())
    caption = (f"Lengths of {n:,} speeches generated by the best model (sampling seed {seed}) against the "
               f"{len(data):,} speeches of the data, in bins of 10 characters: median {np.median(gen):.0f} "
               f"characters generated, {np.median(data):.0f} in the data; {at_cap:,} generated speeches "
               f"({at_cap / n:.1%}) reached the cap of {cap} characters without drawing the boundary.")
    return fig, caption


def held_out(bonus):
    """The held-out bits per character: the RNN's best and final models, the bigram, a uniform guess."""
    b = bonus["vocab"].index(bonus["boundary"])
    K = len(bonus["vocab"])
    rnn_best = record_walk.heldout_bits(bonus["params"], bonus["val_data"], b)
    bigram = record_walk.bigram_bits(bonus["train_data"], bonus["val_data"], b, K)
    final = bonus["summary"].get("final_val_bpc")
    return {"rnn_best": rnn_best, "rnn_final": final, "bigram": bigram, "uniform": float(np.log2(K)),
            "n_chars": int(len(bonus["val_data"]) - 1)}


def held_out_text(bonus):
    h, f = held_out(bonus), bonus["facts"]
    rows = ["| model | held-out bits per character |", "|:---|---:|",
            f"| RNN, best model (update {bonus['summary']['best_step']:,}) | {h['rnn_best']:.3f} |"]
    if h["rnn_final"] is not None:
        rows.append(f"| RNN, last evaluation during training | {h['rnn_final']:.3f} |")
    rows += [f"| character bigram, add-one smoothed, fitted on the training speeches | {h['bigram']:.3f} |",
             f"| uniform over the K = {len(bonus['vocab'])} characters | {h['uniform']:.3f} |"]
    verdict = "below" if h["rnn_best"] < h["bigram"] else "**not below**"
    sentence = (f"Over the {f['n_val_records']:,} held-out speeches ({h['n_chars']:,} characters and closing "
                f"boundaries, each speech from a zero state), the RNN's best model is {verdict} the bigram's "
                f"{h['bigram']:.3f} bits per character, by {h['bigram'] - h['rnn_best']:.3f}.")
    return "\n".join(rows) + "\n\n" + sentence


def speed_text(bonus, stream_runs=()):
    """Time per update and characters per second, against the stream runs of the report."""
    s = bonus["summary"]
    pairs = [len(r) + 1 for r in bonus["records"][:bonus["n_train"]]]
    chars_per_update = sum(pairs) / s["steps_per_epoch"]
    text = (f"Record mode walks each speech in chunks of at most {s['seq_length']} characters, "
            f"{chars_per_update:.1f} on average: {s['us_per_step']:.0f} µs per update, "
            f"{chars_per_update / s['us_per_step'] * 1e6:,.0f} characters per second, "
            f"{s['wall_seconds']:.0f} s in all.")
    if stream_runs:
        st = stream_runs[-1]["summary"]
        text += (f" The {st['epochs']}-epoch stream run of this report: {st['us_per_step']:.0f} µs per update, "
                 f"{st['seq_length'] / st['us_per_step'] * 1e6:,.0f} characters per second.")
    return text
