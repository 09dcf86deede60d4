"""The report's section on the handouts' bonus experiments: the training orders, the batch sizes
and the two optimizers, each setting trained for a few seeds (make report's runs/report/bonus/).

Every run reads the same validation chunk (a piece of the text none of them trains on) from a zero
hidden state every eval_every updates; the comparisons rest on that figure. A comparison is worded
no stronger than its seeds allow: one setting is called better only when its worst seed beats
the other setting's best seed, and only with at least MIN_SEEDS seeds each.
"""

import math
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from lib.training import run_files, run_folder
from lib.training.loss_plot import loss_unit
from lib.training.run_files import ArtifactError

MIN_SEEDS = 3
# make report's folders (Makefile: BONUS_SETTINGS); "order-sequential" is every comparison's baseline.
BASELINE = "order-sequential"
COMPARISONS = {
    "order": ("order-sequential", "order-chunks", "order-random"),
    "batch": ("order-sequential", "batch-8", "batch-32"),
    "optimizer": ("order-sequential", "other-optimizer"),
}
# What the runs of one experiment must share for their figures to be compared.
OPTIMIZER_NAMES = {"adagrad": "AdaGrad", "adam": "Adam"}
SHARED = ("protocol", "data_path", "n_chars", "m", "seq_length", "loss", "chunks", "val_chunk", "steps", "eval_every")


def load(bonus_dir):
    """{setting: [run, ...]} of every finished run under bonus_dir/<setting>/seed<s>/, each run
    {"dir", "seed", "summary", "history"}; None when bonus_dir is None.

    Raises:
        ArtifactError: a setting's folder, a run file or the validation figure is missing, or runs
            that are compared differ in what they share (the message names the file).
    """
    if bonus_dir is None:
        return None
    bonus_dir = Path(bonus_dir)
    settings = {}
    for name in dict.fromkeys(n for names in COMPARISONS.values() for n in names):
        folders = sorted((bonus_dir / name).glob("seed*"), key=lambda d: d.name)
        if not folders:
            raise ArtifactError(f"no runs of the bonus experiment {name!r} in {bonus_dir / name}: run `make report`")
        settings[name] = [_load_run(folder) for folder in folders]
    first = settings[BASELINE][0]
    for name, runs in settings.items():
        for run in runs:
            for key in SHARED:
                if run["summary"].get(key) != first["summary"].get(key):
                    raise ArtifactError(f"{run['dir'] / 'summary.json'} has {key} = {run['summary'].get(key)!r} but "
                                        f"{first['dir'] / 'summary.json'} {first['summary'].get(key)!r}: the bonus runs "
                                        f"must share it to be compared (rerun make report)")
    return settings


def _load_run(folder):
    try:
        run_folder.require_finished(folder)
    except run_folder.RunFolderError as err:
        raise ArtifactError(str(err)) from None
    summary = run_files.read_summary(folder)
    if summary.get("val_chunk") is None or not (summary.get("heldout") or {}).get("best_bpc"):
        raise ArtifactError(f"{folder / 'summary.json'} has no validation chunk's figure: a bonus run sets val_chunk")
    return {"dir": folder, "seed": summary["seed"], "summary": summary, "history": run_files.read_history(folder)}


def label(runs, experiment=None):
    """A setting's name in the report, from what its runs' summary.json say: what the experiment
    varies, or (experiment None) all three."""
    s = runs[0]["summary"]
    words = {"order": s["order"], "batch": f"B = {s['batch_size']}",
             "optimizer": f"{OPTIMIZER_NAMES[s['optimizer']]} η = {s['eta']:g}"}
    return words[experiment] if experiment else ", ".join(words.values())


def _facts(run):
    s = run["summary"]
    chars = s["batch_size"] * s["seq_length"]
    return {"best_bpc": s["heldout"]["best_bpc"], "final_bpc": s["heldout"]["final_bpc"],
            "final_smooth": s["final_smooth_loss"], "us": s["us_per_step"],
            "chars_per_second": chars / (s["us_per_step"] * 1e-6)}


def _spread(values, digits=3):
    values = list(values)
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def table(settings, experiment):
    """A Markdown table of one experiment's settings: each figure the mean over seeds and its range
    (the unit of the smooth loss is in ``caption``)."""
    names = COMPARISONS[experiment]
    lines = [f"| {experiment} | best model's validation bits/char | last model's validation bits/char | final smooth loss "
             f"| CPU µs per update |", "|---|---|---|---|---|"]
    for name in names:
        runs = settings[name]
        facts = [_facts(r) for r in runs]
        lines.append(f"| {label(runs, experiment)} | {_spread(f['best_bpc'] for f in facts)} "
                     f"| {_spread(f['final_bpc'] for f in facts)} | {_spread((f['final_smooth'] for f in facts), 2)} "
                     f"| {_spread((f['us'] for f in facts), 0)} |")
    return "\n".join(lines)


def compare(settings, a, b, key="best_bpc"):
    """How setting a's figure (lower is better) stands against b's over their seeds:
    "lower" (a's every seed below b's every seed), "higher", "overlap", or "too few seeds"."""
    va = [_facts(r)[key] for r in settings[a]]
    vb = [_facts(r)[key] for r in settings[b]]
    if min(len(va), len(vb)) < MIN_SEEDS:
        return "too few seeds"
    if max(va) < min(vb):
        return "lower"
    if min(va) > max(vb):
        return "higher"
    return "overlap"


def verdict(settings, experiment):
    """Sentences comparing each setting of the experiment with the baseline on its best model's
    validation bits per character, no stronger than the seeds' spread."""
    names = COMPARISONS[experiment]
    base = settings[BASELINE]
    base_mean = np.mean([_facts(r)["best_bpc"] for r in base])
    sentences = []
    for name in names[1:]:
        runs = settings[name]
        mean = np.mean([_facts(r)["best_bpc"] for r in runs])
        outcome = compare(settings, name, BASELINE)
        a, b = label(runs, experiment), label(base, experiment)
        gap = f"{abs(mean - base_mean):.3f} bits/char on average"
        if outcome == "lower":
            words = (f"*{a}*'s best model reads the validation chunk better than *{b}*'s in every seed: its worst "
                     f"seed is below the other's best, by {gap}.")
        elif outcome == "higher":
            words = (f"*{a}*'s best model reads the validation chunk worse than *{b}*'s in every seed: its best "
                     f"seed is above the other's worst, by {gap}.")
        elif outcome == "overlap":
            words = (f"*{a}* and *{b}*'s best models overlap on the validation chunk (means {mean:.3f} and "
                     f"{base_mean:.3f} bits/char): their seeds do not tell them apart.")
        else:
            words = (f"*{a}* and *{b}* have fewer than {MIN_SEEDS} seeds each: no conclusion is drawn (means "
                     f"{mean:.3f} and {base_mean:.3f} bits/char).")
        sentences.append(words)
    return " ".join(sentences)


def sooner(settings, experiment, within=0.05):
    """For each setting, the first update at which the mean of its seeds' validation readings came
    within `within` bits/char of the baseline's lowest mean reading: "sooner" in updates and CPU time."""
    base_best = min(_band(settings[BASELINE], "val_bpc")[1])
    parts = []
    for name in COMPARISONS[experiment]:
        steps, mean, _, _ = _band(settings[name], "val_bpc")
        reached = [s for s, v in zip(steps, mean) if v <= base_best + within]
        us = np.mean([_facts(r)["us"] for r in settings[name]])
        if reached:
            parts.append(f"*{label(settings[name], experiment)}* after {reached[0]:,} updates "
                         f"({reached[0] * us * 1e-6:.1f} CPU seconds)")
        else:
            parts.append(f"*{label(settings[name], experiment)}* not within the runs")
    return (f"Within {within} bits/char of the baseline's lowest mean reading ({base_best:.3f}): "
            + "; ".join(parts) + ".")


def _band(runs, value):
    """(steps, mean, low, high) over the runs of history's column `value` at the shared steps."""
    curves = []
    for run in runs:
        h = run["history"]
        curves.append({s: v for s, v in zip(h["step"], h[value]) if not math.isnan(v)})
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    table_ = np.array([[c[s] for s in steps] for c in curves])
    return np.array(steps), table_.mean(axis=0), table_.min(axis=0), table_.max(axis=0)


def figure(settings, experiment, axes):
    """Two panels: validation bits/char against updates, and against CPU seconds (updates times each
    setting's mean CPU time per update); a third, when given, the smooth loss against updates.
    Each line is the mean over seeds, the band their range."""
    for i, name in enumerate(COMPARISONS[experiment]):
        runs = settings[name]
        steps, mean, low, high = _band(runs, "val_bpc")
        seconds = steps * np.mean([_facts(r)["us"] for r in runs]) * 1e-6
        for ax, x in zip(axes[:2], (steps, seconds)):
            ax.plot(x, mean, color=f"C{i}", lw=1.3, label=label(runs, experiment))
            ax.fill_between(x, low, high, color=f"C{i}", alpha=0.2, lw=0)
        if len(axes) > 2:
            steps, mean, low, high = _band(runs, "smooth_loss")
            axes[2].plot(steps, mean, color=f"C{i}", lw=1.1, label=label(runs, experiment))
            axes[2].fill_between(steps, low, high, color=f"C{i}", alpha=0.2, lw=0)
    axes[0].set_xlabel("update")
    axes[1].set_xlabel("CPU seconds")
    for ax in axes[:2]:
        ax.set_ylabel("validation bits/char")
    if len(axes) > 2:
        axes[2].set_xlabel("update")
        axes[2].set_ylabel("smooth loss")
    # The first readings lie far above the rest: show the range where the settings differ.
    lowest = min(line.get_ydata().min() for line in axes[0].lines)
    for ax in axes[:2]:
        ax.set_ylim(lowest - 0.05, lowest + 0.8)
    axes[0].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(4))


TITLES = {"order": "Training order", "batch": "Mini-batches", "optimizer": "Adam against AdaGrad"}


def caption(settings, experiment):
    s = settings[BASELINE][0]["summary"]
    seeds = sorted({len(runs) for name, runs in settings.items() if name in COMPARISONS[experiment]})
    smooth = (f"; right, the smooth loss ({loss_unit(s)}) against updates" if experiment != "order" else "")
    return (f"{TITLES[experiment]}: the validation chunk's bits per character against updates (left) and against "
            f"CPU seconds (the runs' mean CPU time per update times updates){smooth}. Each line is the mean over "
            f"{' or '.join(map(str, seeds))} seed{'s' if max(seeds) > 1 else ''}, the band their range; the validation chunk, piece {s['val_chunk']} "
            f"of {s['chunks']} ({s['heldout']['chars']:,} characters), is read from a zero hidden state every "
            f"{s['eval_every']:,} updates.")


def introduction(settings):
    s = settings[BASELINE][0]["summary"]
    seeds = sorted({r["seed"] for runs in settings.values() for r in runs})
    count = len(settings[BASELINE])
    return (f"Each setting below was trained {'once' if count == 1 else f'{count} times'} "
            f"(seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}) "
            f"for {s['steps']:,} updates of the {s['protocol']} protocol, on the same text cut into {s['chunks']} "
            f"equal pieces, piece {s['val_chunk']} ({s['heldout']['chars']:,} characters) set aside and never "
            f"trained on. Its bits per character, read from a zero hidden state, are the yardstick (of the best "
            f"model, the one with the lowest smooth loss as the course keeps it, and of the last): the smooth "
            f"loss is measured on what each setting trains on, which differs between orders. A setting is called "
            f"better than another only when its worst seed beats the other's best.")


def speed_text(settings, speed):
    """The speed-ups: lib/rnn.py's equations against the fast path and PyTorch (speed.json, the
    gradient-check stage), and the batches' characters per CPU second (the runs above)."""
    parts = []
    plain = (speed or {}).get("plain") or {}
    for loss, t in plain.items():
        parts.append(f"for the loss {loss}, lib/rnn.py's equations take {1e6 * t['plain']:.0f} µs per sequence's "
                     f"loss and gradients, the fast path {1e6 * t['fast']:.0f} µs ({t['plain_over_fast']:.1f}x)")
    torch = {loss: t for loss, t in ((speed or {}).get("timings") or {}).items() if t is not None}
    if torch:
        version = next(iter(torch.values()))["torch_version"]
        parts.append(f"PyTorch {version} takes " + " and ".join(
            f"{t['torch_over_fast']:.1f} (loss {loss})" for loss, t in torch.items()) + " times as long as the fast path")
    if parts and not torch:
        parts.append("PyTorch was not installed, so it was not timed (`pip install -e '.[torch]'`)")
    rates = {name: np.mean([_facts(r)["chars_per_second"] for r in settings[name]])
             for name in COMPARISONS["batch"]}
    base = rates[BASELINE]
    batches = "; ".join(f"B = {settings[n][0]['summary']['batch_size']}: {rate:,.0f} characters per CPU second "
                        f"({rate / base:.2f}x B = 1)" for n, rate in rates.items())
    timed = ("Timed in the gradient-check stage, on the same sequences and parameters, one BLAS thread, the two "
             "taking turns: " + "; ".join(parts) + "." if parts else
             "The gradient check's folder holds no timing of the equations (`speed.json`'s `plain`): run "
             "`notebooks/gradient_check.ipynb` again.")
    return timed + " Measured by the training runs above (their CPU time per update, mean over seeds): " + batches + "."
