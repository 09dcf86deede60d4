"""How far the runs of several seeds differ: their best smooth loss and held-out bits per
character, as a table, a figure and sentences, with repeated runs counted once and a seed far
from the others named as an outlier."""

import math

import numpy as np
from matplotlib.ticker import FuncFormatter


def _stats(values):
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    return float(values.mean()), std, float(values.min()), float(values.max())


def distinct_runs(seeds):
    """(the runs that are separate draws, [(a repeat, the run it repeats), ...]).

    A run trained with the seed of an earlier one, or ending with the very numbers of an earlier
    one (folders seed010 and seed8 both trained with seed 8), is that run again: counting it would
    show a spread of zero between identical runs as if it were measured."""
    kept, repeats = [], []
    for run in seeds:
        numbers = sorted((e, s["best_step"], s["best_smooth_loss"]) for e, s in run["by_epochs"].items())
        first = next((k for k in kept if k["seed"] == run["seed"] or numbers == sorted(
            (e, s["best_step"], s["best_smooth_loss"]) for e, s in k["by_epochs"].items())), None)
        if first is None:
            kept.append(run)
        else:
            repeats.append((run, first))
    return kept, repeats


def _repeats_note(repeats):
    def name(run):
        return f"seed {run['seed']}" + (f" ({run['dir']})" if run.get("dir") else "")
    return " ".join(f"The run of {name(run)} is the run of {name(first)} again (the same seed trains the same "
                    f"run, bitwise): it counts once here." for run, first in repeats)


def spread_rows(seeds):
    """Per seed and epochs: (seed, epochs, best step, best smooth loss, held-out bits/char or None);
    a run repeating another (distinct_runs) is left out."""
    rows = []
    for run in distinct_runs(seeds)[0]:
        for epochs, s in run["by_epochs"].items():
            held = (s.get("heldout") or {}).get("best_bpc")
            rows.append((run["seed"], epochs, s["best_step"], s["best_smooth_loss"], held))
    return rows


def spread_table(seeds):
    """Markdown: each seed's best smooth loss (step) and held-out bits/char per length; mean, std, range."""
    rows = spread_rows(seeds)
    lengths = sorted({r[1] for r in rows})
    has_held = any(r[4] is not None for r in rows)
    header = "| seed | " + " | ".join(
        f"best smooth loss, {e} ep (step)" + (f" | held-out bits/char, {e} ep" if has_held else "")
        for e in lengths) + " |"
    lines = [header, "|---:|" + "---:|" * (len(lengths) * (2 if has_held else 1))]
    by = {(r[0], r[1]): r for r in rows}
    seeds = distinct_runs(seeds)[0]
    for seed in [run["seed"] for run in seeds]:
        cells = []
        for e in lengths:
            r = by[(seed, e)]
            cells.append(f"{r[3]:.3f} ({r[2]:,})")
            if has_held:
                cells.append("–" if r[4] is None else f"{r[4]:.4f}")
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    for label, pick in (("mean", 0), ("standard deviation", 1), ("range", None)):
        cells = []
        for e in lengths:
            for index, digits in ((3, 3), (4, 4)) if has_held else ((3, 3),):
                values = [by[(run["seed"], e)][index] for run in seeds]
                if any(v is None for v in values):
                    cells.append("–")
                    continue
                mean, std, low, high = _stats(values)
                cells.append(f"{low:.{digits}f} – {high:.{digits}f}" if pick is None else
                             f"{(mean, std)[pick]:.{digits}f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def spread_figure(seeds, ax):
    """All seeds' smooth-loss curves: their mean, the min-max band, and the first seed on top
    (a run repeating another counted once)."""
    seeds = distinct_runs(seeds)[0]
    steps = seeds[0]["history"]["step"]
    curves = np.array([run["history"]["smooth_loss"] for run in seeds])
    ax.fill_between(steps, curves.min(axis=0), curves.max(axis=0), color="C0", alpha=0.25,
                    label=f"min–max of {len(seeds)} seeds")
    ax.plot(steps, curves.mean(axis=0), color="C0", lw=1.2, label="mean")
    ax.plot(steps, curves[0], color="C3", lw=0.8, label=f"seed {seeds[0]['seed']}")
    ax.set_xlabel("update step")
    ax.set_ylabel("smooth loss")
    if steps and steps[-1] >= 10_000:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v else "0"))
    ax.set_ylim(top=float(np.percentile(curves, 99.5)))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    return ax


def spread_caption(seeds):
    seeds = distinct_runs(seeds)[0]
    longest = max(seeds[0]["by_epochs"])
    return (f"Smooth loss of the {longest}-epoch runs of seeds "
            f"{', '.join(str(r['seed']) for r in seeds)}: their mean, the band between the lowest and "
            f"highest at each step, and seed {seeds[0]['seed']} (the runs above).")


def spread_text(seeds):
    """What the spread allows one to conclude about longer training, no more (a run repeating
    another is named and counted once)."""
    seeds, repeats = distinct_runs(seeds)
    note = _repeats_note(repeats) + " " if repeats else ""
    return note + _spread_text(seeds)


def _spread_text(seeds):
    n = len(seeds)
    if n < 2:
        return (f"This report was built from {'one seed' if n else 'no runs over several seeds'}: there is no "
                f"spread over initialisations to measure (make report trains SEEDS, five by default).")
    lengths = sorted(seeds[0]["by_epochs"])
    if len(lengths) < 2:
        mean = _stats([r["by_epochs"][lengths[0]]["best_smooth_loss"] for r in seeds])[0]
        return (f"Over {n} seeds the best smooth loss is {mean:.3f} "
                f"on average; with a single run length there is no comparison of lengths to make.")
    short, long_ = lengths[0], lengths[-1]
    best = {e: [run["by_epochs"][e]["best_smooth_loss"] for run in seeds] for e in (short, long_)}
    gains = [a - b for a, b in zip(best[short], best[long_])]
    gain_mean, gain_std, gain_low, gain_high = _stats(gains)
    spread = max(_stats(best[short])[1], _stats(best[long_])[1])
    text = (f"Over {n} seeds, training for {long_} instead of {short} epochs lowered the best smooth loss by "
            f"{gain_mean:.3f} on average (per seed between {gain_low:.3f} and {gain_high:.3f}; standard "
            f"deviation {gain_std:.3f}), while the best smooth loss itself varies from seed to seed with a "
            f"standard deviation of {_stats(best[short])[1]:.3f} at {short} epochs and "
            f"{_stats(best[long_])[1]:.3f} at {long_}. ")
    if gain_low > 0 and gain_mean > spread:
        text += ("Every seed improved, and by more than the seed-to-seed spread: on this evidence the longer "
                 "training helps, whichever the initialisation.")
    elif gain_low > 0:
        text += (f"Every seed improved, and by similar amounts, so for a given initialisation the longer "
                 f"training helps; but the gain is smaller than the seed-to-seed spread, so a single "
                 f"{short}-epoch run and a single {long_}-epoch run of different seeds could rank either way.")
    else:
        text += (f"Not every seed improved: {n} seeds cannot show that the longer training helps.")
    held = {e: [(run["by_epochs"][e].get("heldout") or {}).get("best_bpc") for run in seeds] for e in (short, long_)}
    if all(v is not None for v in held[short] + held[long_]):
        text += " " + _held_out_spread(seeds, held, short, long_)
    return text


def held_out_course(evals):
    """How a run's held-out readings [(step, bits per char), ...] went, in words ('' when there are none):
    the first reading that more than doubled the one before, or else the first and the last reading."""
    if not evals:
        return ""
    jump = next(((a, b) for a, b in zip(evals, evals[1:]) if b[1] > 2 * a[1]), None)
    if jump:
        (before_step, before), (after_step, after) = jump
        stayed = min(v for step, v in evals if step >= after_step) > 2 * before
        return (f"went from {before:.2f} at update {before_step:,} to {after:.2f} at update {after_step:,}"
                + (" and stayed high" if stayed else ""))
    (first_step, first), (last_step, last) = evals[0], evals[-1]
    return (f"read {first:.2f} at the first reading (update {first_step:,}) and {last:.2f} at the last "
            f"(update {last_step:,})")


def held_out_outliers(values):
    """Indices of values far from the others: more than 10 median absolute deviations (and 0.5) off the median."""
    median = float(np.median(values))
    mad = float(np.median(np.abs(np.asarray(values) - median)))
    return [i for i, v in enumerate(values) if abs(v - median) > max(10 * mad, 0.5)]


def _held_out_spread(seeds, held, short, long_):
    n = len(seeds)
    far = held_out_outliers(held[long_])
    usual = [i for i in range(n) if i not in far]
    hs, hl = _stats([held[short][i] for i in usual]), _stats([held[long_][i] for i in usual])
    which = "the best models" if not far else f"the best models of the other {len(usual)} seeds"
    text = (f"On the held-out play {which} reach {hs[0]:.4f} ± {hs[1]:.4f} bits per character after {short} "
            f"epochs and {hl[0]:.4f} ± {hl[1]:.4f} after {long_} (mean ± standard deviation); "
            f"{sum(held[long_][i] < held[short][i] for i in usual)} of {len(usual)} did better on it after "
            f"{long_} epochs.")
    for i in far:
        run = seeds[i]
        summary = run["by_epochs"][long_]
        evals = [(step, v) for step, v in zip(run["history"]["step"], run["history"]["val_bpc"]) if not math.isnan(v)]
        text += (f" Seed {run['seed']} is the exception: its best model scores {held[long_][i]:.2f} bits per "
                 f"character on the held-out play, against {min(held[long_][j] for j in usual):.2f}–"
                 f"{max(held[long_][j] for j in usual):.2f} for the others, although its best smooth loss on "
                 f"the training text ({summary['best_smooth_loss']:.2f}) is ordinary.")
        course = held_out_course(evals)
        second = run.get("heldout_second_start")
        if course:
            text += f" In its training the held-out figure {course}"
            text += "." if second is not None else (": one initialisation gave a network that reads text it "
                                                    "never saw far worse than the loss it trained on suggests.")
        if second is not None:
            others = [held[long_][j] for j in usual]
            text += f" Read from the play's second character instead of its first, the same model scores {second:.2f}"
            if len(others) not in held_out_outliers(others + [second]):
                text += (", in line with the others: the figure turns on where the reading starts (on the state "
                         "the first characters leave the network in), not on the play.")
            else:
                text += ", still far from the others: where the reading starts does not explain it."
    return text + (f" With {n} draws these are rough estimates: the standard error of a mean is its standard "
                   f"deviation divided by √{len(usual)}.")
