"""The report's section on gated cells: the course's network (both handouts), the GRU and the LSTM of the
gated recipe (lib/training/settings.py, protocol "gated") beside Kneser-Ney n-grams on the held-out text.

Every figure is read from the runs' summary.json (their against_ngrams: held-out bits per character of the
best model, chosen by the smooth loss as the course chooses, and of the last one, beside the n-grams fitted on
the same training text) and history.csv; the passages are drawn from their best.npz at one temperature."""

import math
from pathlib import Path

import matplotlib.pyplot as plt

from lib import network
from lib.sample import sampling
from lib.training import checkpoint, run_files

# Each network's passage: the same length, temperature and seed for every one.
PASSAGE_CHARS, PASSAGE_TEMPERATURE, PASSAGE_SEED = 400, 0.8, 0


def label(summary):
    """A network's name in the section: "RNN, 2021 handout" (the course's), "LSTM, 1 layer of 256"."""
    cell = summary.get("cell", "rnn")
    if cell == "rnn":
        return f"RNN, {summary['protocol']} handout"
    layers = summary.get("layers", 1)
    return f"{cell.upper()}, {layers} layer{'s' if layers > 1 else ''} of {summary['m']}"


def load(run_dirs):
    """The section's runs, in the order given: [{"dir", "summary", "history", "label"}], or None when one of
    them is missing or held nothing out (the section then says so)."""
    loaded = []
    for folder in run_dirs:
        folder = Path(folder)
        try:
            summary = run_files.read_summary(folder)
        except run_files.ArtifactError:
            return None
        if not summary.get("against_ngrams"):
            return None
        loaded.append({"dir": folder, "summary": summary, "history": run_files.read_history(folder),
                       "label": label(summary)})
    texts = {(r["summary"]["against_ngrams"]["text"], r["summary"]["against_ngrams"]["chars"]) for r in loaded}
    if len(texts) != 1:
        raise run_files.ArtifactError(f"the gated section's runs were read on different held-out texts: {sorted(texts)}")
    return loaded


def best_ngram(runs):
    """The best n-gram's {"n", "bits_per_char"}; every run fitted the same n-grams on the same text."""
    found = {(r["summary"]["against_ngrams"]["ngram"]["best"]["n"],
              round(r["summary"]["against_ngrams"]["ngram"]["best"]["bits_per_char"], 9)) for r in runs}
    if len(found) != 1:
        raise run_files.ArtifactError(f"the gated section's runs saw different n-gram figures: {sorted(found)}")
    return runs[0]["summary"]["against_ngrams"]["ngram"]["best"]


def cpu_minutes(summary):
    """CPU minutes of the run's updates (summary's cpu_seconds: the training loop's process time)."""
    return summary["cpu_seconds"] / 60


def chars_per_cpu_second(summary):
    """Characters trained on per CPU second: every update reads batch_size sequences of seq_length."""
    return summary["steps"] * summary.get("batch_size", 1) * summary["seq_length"] / summary["cpu_seconds"]


def introduction(runs):
    against = runs[0]["summary"]["against_ngrams"]
    ngram = best_ngram(runs)
    orders = ", ".join(f"{e['n']}: {e['bits_per_char']:.3f}" for e in against["ngram"]["orders"])
    return (f"The course's network, trained as each handout says, beside the two gated cells of this project's "
            f"recipe (protocol `gated`), each read on {against['text']} ({against['chars']:,} characters, never "
            f"trained on), in bits per character. The yardstick is counting: interpolated Kneser-Ney n-gram models "
            f"fitted on the same training text, of orders 1 to 8 ({orders} bits/char); the best, order "
            f"{ngram['n']}, reads {ngram['bits_per_char']:.3f}. A network's figure is its best model's, chosen by the "
            f"smooth loss as the course chooses, and its last model's: never the lowest of its held-out readings.")


def recipe_text(runs):
    """The gated recipe's settings, as its runs' summaries hold them."""
    gated = [r["summary"] for r in runs if r["summary"].get("protocol") == "gated"]
    if not gated:
        return ""
    s = gated[0]
    text = (f"The recipe: {s['layers']} layer{'s' if s['layers'] > 1 else ''} of m = {s['m']} units, "
            f"{s['batch_size']} streams of {s['seq_length']} characters an update (the text cut into {s['batch_size']} "
            f"parts walked side by side), Adam with η = {s['eta']:g} multiplied by {s['eta_decay']:g} each epoch, "
            f"gradients clipped to ±{s['clip']:g}, dropout {s['dropout']:g} on each layer's output, {s['dtype']}, "
            f"{s['epochs']} epochs.")
    for other in gated[1:]:
        changed = [f"{name} = {other[name]:g}" for name in ("m", "layers", "epochs", "dropout", "eta", "eta_decay")
                   if other.get(name) != s.get(name)]
        if changed:
            text += (f" The {other.get('cell', 'rnn').upper()} is given {', '.join(changed)} instead (its CPU "
                     f"minutes in the table show what that costs).")
    return text


def table(runs):
    lines = ["| network | parameters | chars per CPU s | CPU min | best model | last model |",
             "|:--------------------------|----------:|-----------:|--------:|-----------:|-----------:|"]
    for r in runs:
        s = r["summary"]
        against = s["against_ngrams"]
        lines.append(f"| {r['label']} | {s['parameters']:,} | {chars_per_cpu_second(s):,.0f} | {cpu_minutes(s):.1f} | "
                     f"{against['best_bpc']:.3f} | {against['final_bpc']:.3f} |")
    ngram = best_ngram(runs)
    lines.append(f"| Kneser-Ney {ngram['n']}-gram | | | | {ngram['bits_per_char']:.3f} | |")
    return "\n".join(lines) + (f"\n\nThe last two columns are held-out bits per character (the n-gram's is the best "
                               f"of orders 1 to 8); CPU minutes are those of the run's updates.")


def figure(runs):
    """Held-out bits/char against CPU minutes, each reading placed at its update's share of the run's CPU time
    (the updates of a run cost alike), the best n-gram as a line."""
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for number, r in enumerate(runs):
        s, h = r["summary"], r["history"]
        readings = [(step, v) for step, v in zip(h["step"], h["val_bpc"]) if not math.isnan(v)]
        minutes = [cpu_minutes(s) * step / s["steps"] for step, _ in readings]
        ax.plot(minutes, [v for _, v in readings], marker="o", ms=2.5, lw=1.2, color=f"C{number}", label=r["label"])
    ngram = best_ngram(runs)
    ax.axhline(ngram["bits_per_char"], color="0.3", ls="--", lw=1,
               label=f"Kneser-Ney {ngram['n']}-gram, {ngram['bits_per_char']:.3f}")
    readings = [[v for v in r["history"]["val_bpc"] if not math.isnan(v)] for r in runs]
    low = min([v for values in readings for v in values] + [ngram["bits_per_char"]])
    # The first readings of an untrained network are far above the rest: the range shows every run's last one.
    ax.set_ylim(low - 0.05, max([low + 1.2] + [values[-1] + 0.1 for values in readings if values]))
    ax.set_xlabel("CPU minutes of training")
    ax.set_ylabel("held-out bits per character")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, (f"Held-out bits per character against the CPU minutes of each run's updates (a reading at update s "
                 f"of S is drawn at s/S of the run's CPU time), with the best n-gram model as a dashed line.")


def verdict(runs):
    """Which networks read the held-out text below the best n-gram, by their best or their last model."""
    ngram = best_ngram(runs)
    parts = []
    for r in runs:
        against = r["summary"]["against_ngrams"]
        best, last = against["best_bpc"], against["final_bpc"]
        below = [f"its {which} model by {ngram['bits_per_char'] - v:.3f}" for which, v in (("best", best), ("last", last))
                 if v < ngram["bits_per_char"]]
        parts.append(f"the {r['label']} " + (f"reads below the {ngram['n']}-gram: " + " and ".join(below) if below else
                                             f"stays above the {ngram['n']}-gram (best {best:.3f}, last {last:.3f})"))
    return "On the held-out text, " + "; ".join(parts) + "."


def passages(runs):
    """[(label, text)]: PASSAGE_CHARS characters from each best model at PASSAGE_TEMPERATURE, seed PASSAGE_SEED."""
    out = []
    for r in runs:
        params, vocab, _ = checkpoint.load_model(r["dir"] / checkpoint.BEST_MODEL)
        out.append((f"{r['label']} ({network.param_count(params):,} parameters)",
                    sampling.sample_text(params, vocab, PASSAGE_CHARS, PASSAGE_SEED, PASSAGE_TEMPERATURE)))
    return out


def missing_text():
    return ("The gated runs are not there, or held nothing out of training (a text of your own: give it a held-out "
            "tail), so this section has nothing to compare: `make report` trains them (the gated stage).")
