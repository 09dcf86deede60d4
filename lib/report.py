"""What the report says, computed from the run files (never typed in)."""

import math
from pathlib import Path

import numpy as np
from matplotlib.ticker import FuncFormatter

from . import checkpoint, corpus, gradcheck, rundir, runs, shakespeare, train
from .runs import ArtifactError  # noqa: F401 (the report notebook uses it)
from .show import sample_heading  # noqa: F401 (the report notebook uses it)


def load_report_inputs(run_dirs, gradcheck_dir, seed_dirs=()):
    """Read and check every file the report uses, before any of it is rendered.

    Args:
        run_dirs: training-run folders (each with summary.json, history.csv,
            samples.jsonl, evolution.json, passage.json).
        gradcheck_dir: folder with gradcheck.json.
        seed_dirs: finished runs of the same settings but the seed (each with its
            shorter runs kept in epochs_<k>/), for the spread over initialisations.
    Returns:
        {"gradcheck": {...}, "runs": [{"dir", "summary", "history", "evolution", "passage"}, ...]}
        with runs ordered by their number of epochs.
    Raises:
        ArtifactError: a file is missing or malformed (the message names it).
    """
    if not run_dirs:
        raise ArtifactError("no training runs given to the report")
    loaded = []
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        try:
            rundir.require_finished(run_dir)
        except rundir.RunFolderError as err:
            raise ArtifactError(str(err)) from None
        summary = runs.read_summary(run_dir)
        history = runs.read_history(run_dir)
        evolution = runs.read_evolution(run_dir)
        passage = runs.read_passage(run_dir)
        if evolution["run_steps"] != summary["steps"]:
            raise ArtifactError(
                f"{run_dir / 'evolution.json'} was picked from a run {evolution['run_steps']:,} updates "
                f"long, but {run_dir / 'summary.json'} has {summary['steps']:,}: rerun text_evolution")
        if passage["best_step"] != summary["best_step"]:
            raise ArtifactError(
                f"{run_dir / 'passage.json'} is from another model (best step {passage['best_step']}) "
                f"than {run_dir / 'summary.json'} (best step {summary['best_step']}): rerun best_model")
        loaded.append({"dir": run_dir, "summary": summary, "history": history,
                       "evolution": evolution, "passage": passage})
    loaded.sort(key=lambda r: (r["summary"]["epochs"], str(r["dir"])))
    results, gradcheck_settings = runs.read_gradcheck(gradcheck_dir)
    seeds = [_load_seed_run(Path(d)) for d in seed_dirs]
    _read_outliers_again(seeds)
    return {"gradcheck": results, "gradcheck_settings": gradcheck_settings, "runs": loaded, "seeds": seeds}


def _load_seed_run(run_dir):
    """A seed's longest run and the shorter runs kept along it: {"dir", "seed", "by_epochs", "history"}."""
    by_epochs = {}
    for folder in [run_dir] + sorted(run_dir.glob("epochs_*")):
        try:
            rundir.require_finished(folder)
        except rundir.RunFolderError as err:
            raise ArtifactError(str(err)) from None
        summary = runs.read_summary(folder)
        by_epochs[summary["epochs"]] = summary
    longest = by_epochs[max(by_epochs)]
    return {"dir": run_dir, "seed": longest["seed"], "by_epochs": dict(sorted(by_epochs.items())),
            "history": runs.read_history(run_dir)}


def _longest_summary(run):
    return run["by_epochs"][max(run["by_epochs"])]


def held_out_from_second_character(run):
    """The best model of a seed's longest run, read on the held-out text from its second character
    (the held-out figure proper starts at the first): bits per character.

    Raises:
        ArtifactError: the held-out text is missing or is not the one the run was measured on.
    """
    summary = _longest_summary(run)
    try:
        path = shakespeare.heldout_path(summary["data_path"])
    except shakespeare.PrepareError as err:
        raise ArtifactError(str(err)) from None
    if path is None:
        raise ArtifactError(f"{run['dir']}: the held-out text of {summary['data_path']} is not there to read "
                            f"again (make corpus remakes the default corpus's)")
    text = corpus.read_text(path)
    if train.text_sha256(text) != summary.get("heldout_sha256"):
        raise ArtifactError(f"{path} is not the held-out text that {run['dir']} was measured on "
                            f"(its sha256 differs): rerun the training")
    params, vocab, _ = checkpoint.load_model(Path(run["dir"]) / checkpoint.BEST_MODEL)
    return train.bits_per_char(params, corpus.encode(text, vocab)[1:])


def _read_outliers_again(seeds):
    """For each seed whose held-out figure is far from the others' (``held_out_outliers``), the same
    model read from the held-out text's second character, as run["heldout_second_start"]."""
    held = [(_longest_summary(run).get("heldout") or {}).get("best_bpc") for run in seeds]
    if len(seeds) < 2 or any(value is None for value in held):
        return
    for i in held_out_outliers(held):
        seeds[i]["heldout_second_start"] = held_out_from_second_character(seeds[i])


def discover_records(root):
    """make report's record-mode run under root (the bonus section's), or None when there is none."""
    folder = Path(root) / "records"
    return folder if (folder / rundir.STATUS).is_file() else None


def discover_runs(root):
    """make report's folders under root: (course runs, seed runs, gradcheck folder), from what is on disk.

    The first seed (by number) is the course's; its shorter runs are the kept epochs_<k> folders.
    """
    root = Path(root)
    seed_dirs = sorted(root.glob("seed*/train_*ep"), key=lambda d: int(d.parent.name[4:]))
    if not seed_dirs:
        raise ArtifactError(f"no runs of make report in {root}: run `make report`, or pass run_dirs")
    course = sorted(seed_dirs[0].glob("epochs_*")) + [seed_dirs[0]]
    return course, seed_dirs, root / "gradcheck"


def gradcheck_sentence(results):
    """One sentence on which elementwise central-difference error is largest, and why."""
    rows = [(int(m), name, row) for m, table in results.items() for name, row in table.items()]
    m, name, row = max(rows, key=lambda r: r[2]["central_max_rel"])
    ratio = row["central_max_rel"] / max(row["central_norm_rel"], 1e-300)
    return (
        f"The largest elementwise central-difference error is {name}'s at m = {m} "
        f"({gradcheck.format_error(row['central_max_rel'])}), {ratio:,.0f} times its norm-relative error "
        f"({gradcheck.format_error(row['central_norm_rel'])}): it comes from entries whose true gradient "
        f"is close to zero, where the round-off of f(θ+h) − f(θ−h) is the whole difference, while the "
        f"complex step, which subtracts nothing, agrees with the same entries to "
        f"{gradcheck.format_error(row['complex_max_rel'])}.")


def gradcheck_intro(inputs):
    """What the gradient check compared, with the settings it ran with."""
    g = inputs["gradcheck_settings"]
    return (f"The analytic gradients of `lib/rnn.py` against two numerical ones, on the first "
            f"{g['seq_length']} characters of the corpus, with weights drawn from N(0, {g['sigma']}²) "
            f"(seed {g['seed']}): central differences with step h = {g['h']:g}, and the complex step "
            f"Im f(θ + iε)/ε with ε = {g['eps']:g}. For each parameter, the largest elementwise relative "
            f"error |a − n| / (|a| + |n|) (*max*) and the norm-relative error ‖a − n‖ / (‖a‖ + ‖n‖) (*norm*).")


def gradcheck_verdict(results):
    """The check's pass/fail sentence, as the gradient-check notebook decided it."""
    v = gradcheck.verdict(results)
    lines = v["text"].splitlines()
    head = "Both criteria hold" if v["passed"] else "**The check FAILED**"
    return f"{head}: " + "; ".join(lines) + "."


def same_start_note(report_runs):
    """Whether the shorter runs are exact prefixes of the longest (same seed, same walk)."""
    longest = report_runs[-1]
    prefixes = []
    for r in report_runs[:-1]:
        n = len(r["history"]["step"])
        if n and all(r["history"][k] == longest["history"][k][:n] for k in ("step", "loss", "smooth_loss")):
            prefixes.append(r)
    if not prefixes:
        return ""
    names = " and ".join(f"{r['summary']['epochs']}-epoch" for r in prefixes)
    return (f"The {names} run has the same seed and settings as the "
            f"{longest['summary']['epochs']}-epoch run, and its recorded losses are identical to the "
            f"first part of the longer run's: it is the same trajectory, stopped earlier, so its best "
            f"model is the best point of that first part.")


def loss_caption(summary):
    """Caption of a run's smooth-loss figure, with its hyperparameters."""
    return (f"Smooth loss of the {summary['epochs']}-epoch run ({summary['steps']:,} updates): "
            f"m = {summary['m']}, η = {summary['eta']}, seq_length = {summary['seq_length']}, "
            f"σ = {summary['sigma']}, seed {summary['seed']}, AdaGrad with gradients clipped to "
            f"[−5, 5]. Dotted lines mark the start of each epoch.")


def _minutes(seconds):
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def run_facts_table(report_runs):
    """Markdown table of each run's facts: corpus, size, K, updates, speed, wall time, seed, versions."""
    first = report_runs[0]["summary"]
    header = "| | " + " | ".join(
        f"{r['summary']['epochs']} epoch{'s' if r['summary']['epochs'] != 1 else ''}" for r in report_runs) + " |"
    lines = [header, "|:---|" + "---:|" * len(report_runs)]

    def row(label, fmt):
        lines.append(f"| {label} | " + " | ".join(fmt(r["summary"]) for r in report_runs) + " |")

    row("corpus", _corpus_name)
    row("characters (training)", lambda s: f"{s['n_chars']:,} ({s.get('n_train', s['n_chars']):,})")
    row("vocabulary size K", lambda s: str(s["K"]))
    row("updates per epoch", lambda s: f"{s['steps_per_epoch']:,}")
    row("updates", lambda s: f"{s['steps']:,}")
    row("µs per update (CPU time)", lambda s: f"{s['us_per_step']:.0f}")
    row("wall time", lambda s: _minutes(s["wall_seconds"]))
    row("best step", lambda s: f"{s['best_step']:,}")
    row("best smooth loss", lambda s: f"{s['best_smooth_loss']:.3f}")
    row("final smooth loss", lambda s: f"{s['final_smooth_loss']:.3f}")
    row("seed", lambda s: str(s["seed"]))
    versions = first.get("versions", {})
    if versions:
        row("Python, numpy, matplotlib", lambda s: ", ".join(
            s.get("versions", {}).get(k, "?") for k in ("python", "numpy", "matplotlib")))
    return "\n".join(lines)


def held_out_text(report_runs):
    """Sentences on held-out bits per character, or why there are none."""
    out = []
    for r in report_runs:
        s = r["summary"]
        val = [(step, v) for step, v in zip(r["history"]["step"], r["history"]["val_bpc"])
               if not math.isnan(v)]
        if not val:
            continue
        low_step, low = min(val, key=lambda p: p[1])
        held = s.get("heldout")
        if held:
            what = (f"the play *{_play_title(held['name'])}* ({held['chars']:,} characters), which is not among "
                    f"the training plays, was never trained on")
        else:
            what = (f"the last {s['val_fraction']:.0%} of the text ({s['n_chars'] - s['n_train']:,} characters) "
                    f"was held out of training")
        sentence = (f"{s['epochs']}-epoch run: {what}; measured every {s['eval_every']:,} updates, its loss "
                    f"fell to {low:.3f} bits per character (step {low_step:,}) and ended at {val[-1][1]:.3f}.")
        if held:
            sentence += f" The best model (step {s['best_step']:,}) scores {held['best_bpc']:.3f} on it."
        out.append(sentence)
    if not out:
        return ("No run held out any text: every run trained on the whole text and was measured on nothing "
                "else (val_fraction = 0, and no held-out play: a text of your own). Train with "
                "`-p val_fraction 0.05` to measure held-out bits per character.")
    return "\n\n".join(out)


def _play_title(name):
    """'comedies/twelfth-night' -> 'Twelfth Night'."""
    words = Path(name).name.replace("-s-", "'s-").split("-")
    small = {"of", "and", "the", "a", "in", "about"}
    return " ".join(w if i and w in small else w[:1].upper() + w[1:] for i, w in enumerate(words))


def _corpus_name(summary):
    return summary.get("corpus", Path(summary["data_path"]).name)


def introduction(inputs, command):
    """The paragraph under the title: corpus, runs, date, and the command that regenerates it all."""
    first = inputs["runs"][0]["summary"]
    epochs = " and ".join(str(r["summary"]["epochs"]) for r in inputs["runs"])
    return (f"A vanilla RNN with m = {first['m']} hidden units learns to write text one character at a "
            f"time from *{_corpus_name(first)}* ({first['n_chars']:,} characters, K = {first['K']} "
            f"distinct). It was trained with AdaGrad for {epochs} epochs. Every number, figure and "
            f"sample below was computed by the runs this report was built from, finished on "
            f"{run_date(inputs)}. To regenerate it all: `{command}`.")


def run_date(inputs):
    """The date (UTC) on which the last of the runs finished."""
    return max(r["summary"].get("finished_at", "")[:10] for r in inputs["runs"]) or "an unknown date"


TITLE_MIME = "application/vnd.charrnn.title+json"


def title_metadata(inputs, command):
    """The document's title block: title, subtitle, date (shown as TITLE_MIME output, read by the templates)."""
    first = inputs["runs"][0]["summary"]
    return {"title": "A character-level vanilla RNN trained with AdaGrad",
            "subtitle": f"Corpus: {_corpus_name(first)}, {first['n_chars']:,} characters, K = {first['K']}",
            "date": f"Runs of {run_date(inputs)} · regenerate with: {command}"}


def evolution_note(report_runs):
    """Which run the evolution comes from, and whether the other runs share it."""
    longest = report_runs[-1]
    samples = longest["evolution"]["samples"]
    note = (f"From the {longest['summary']['epochs']}-epoch run: the sample drawn before the first "
            f"update and every {longest['evolution']['every']:,} updates up to "
            f"{samples[-1]['step'] if samples else 0:,}, each {len(samples[0]['text']) if samples else 0} "
            f"characters, drawn from the hidden state of the moment.")
    same = [r for r in report_runs[:-1] if r["evolution"]["samples"] == samples]
    if same:
        note += (" The " + " and ".join(f"{r['summary']['epochs']}-epoch" for r in same) +
                 " run drew the very same samples: same seed, same first updates.")
    return note


def temperature_note(run):
    """Which model and seed the temperature sweep used."""
    p = run["passage"]
    note = (f"{len(p['sweep'][0]['text']) if p['sweep'] else 0} characters from the best model of the "
            f"{run['summary']['epochs']}-epoch run (step {p['best_step']:,}), each with sampling seed "
            f"{p['seed']}, so only the temperature differs between them.")
    same = [e["temperature"] for e in p["sweep"] if p["passage"].startswith(e["text"])]
    if same:
        note += (f" At temperature {same[0]} the draw is the passage of section 2.3 again (same model, "
                 f"same seed), shown here for comparison.")
    return note


def best_model_heading(run):
    """'Best model of the 10-epoch run: update step 401,200, smooth loss 41.234'."""
    p = run["passage"]
    return (f"Best model of the {run['summary']['epochs']}-epoch run: update step {p['best_step']:,}, "
            f"smooth loss {p['best_smooth_loss']:.3f}")


# ----------------------------------------------------------- spread over initialisations

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


def how_obtained(seeds):
    """How each length's results were obtained (the shorter ones are kept along the longest)."""
    lengths = sorted(seeds[0]["by_epochs"])
    longest = lengths[-1]
    shorter = " and ".join(str(e) for e in lengths[:-1])
    note = (f"Each seed was trained once, for {longest} epochs, with the course's settings; only the seed "
            f"differs, and it decides both the initial weights and the samples.")
    if shorter:
        note += (f" The {shorter}-epoch results are those runs as they stood at the end of epoch {shorter}, "
                 f"kept during training: a separate {shorter}-epoch run of the same seed follows the very same "
                 f"trajectory and ends with the same numbers, bit for bit (the project's tests check it).")
    return note
