"""What the report says, computed from the run files (never typed in)."""

import math
from pathlib import Path

from . import gradcheck, rundir, runs
from .runs import ArtifactError  # noqa: F401 (the report notebook uses it)
from .show import sample_heading  # noqa: F401 (the report notebook uses it)


def load_report_inputs(run_dirs, gradcheck_dir):
    """Read and check every file the report uses, before any of it is rendered.

    Args:
        run_dirs: training-run folders (each with summary.json, history.csv,
            samples.jsonl, evolution.json, passage.json).
        gradcheck_dir: folder with gradcheck.json.
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
    return {"gradcheck": results, "gradcheck_settings": gradcheck_settings, "runs": loaded}


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
    row("µs per update", lambda s: f"{s['us_per_step']:.0f}")
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
        if val:
            best_step, best = min(val, key=lambda p: p[1])
            out.append(
                f"{s['epochs']}-epoch run: the last {s['val_fraction']:.0%} of the text "
                f"({s['n_chars'] - s['n_train']:,} characters) was held out; its loss fell to "
                f"{best:.3f} bits per character (step {best_step:,}) and ended at {val[-1][1]:.3f}.")
    if not out:
        return ("No run held out a validation tail: as in the course, every run trained on the whole "
                "text (val_fraction = 0). Train with `-p val_fraction 0.05` to measure held-out bits per "
                "character.")
    return "\n\n".join(out)


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


def title_metadata(inputs, command):
    """Notebook metadata for the document's title block (read by the report templates)."""
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
