"""What the report's sections say, worded from the run files (never typed in): the gradient check,
the loss figures, the samples and passages, the run facts and the held-out text."""

import math
from pathlib import Path

from lib import gradcheck
from lib.text import plays
from lib.training import loss_plot
from lib.training import settings as training_settings


def gradcheck_sentence(results):
    """One sentence on which elementwise central-difference error is largest, and why."""
    loss, m, name, row = max(gradcheck.rows(results), key=lambda r: r[3]["central_max_rel"])
    ratio = row["central_max_rel"] / max(row["central_norm_rel"], 1e-300)
    return (
        f"The largest elementwise central-difference error is {name}'s at m = {m} (loss {loss}) "
        f"({gradcheck.format_error(row['central_max_rel'])}), {ratio:,.0f} times its norm-relative error "
        f"({gradcheck.format_error(row['central_norm_rel'])}): it comes from entries whose true gradient "
        f"is close to zero, where the round-off of f(θ+h) − f(θ−h) is the whole difference, while the "
        f"complex step, which subtracts nothing, agrees with the same entries to "
        f"{gradcheck.format_error(row['complex_max_rel'])}.")


def gradcheck_intro(inputs):
    """What the gradient check compared, with the settings it ran with."""
    g = inputs["gradcheck_settings"]
    kinds = gradcheck.oracles(inputs["gradcheck"])
    torch = ("PyTorch's automatic differentiation (float64, an implementation of the forward pass of its own), "
             if "torch" in kinds else "")
    missing = "" if "torch" in kinds else f" ({gradcheck.TORCH_MISSING}.)"
    return (f"The analytic gradients of `lib/rnn.py`, for the loss summed over the sequence and for its mean, "
            f"against {'four' if torch else 'three'} oracles, on the first "
            f"{g['seq_length']} characters of the corpus, with weights drawn from N(0, {g['sigma']}²) "
            f"(seed {g['seed']}): central differences with step h = {g['h']:g}, the complex step "
            f"Im f(θ + iε)/ε with ε = {g['eps']:g}, {torch}and the gradients of the fast path that trains "
            f"(`lib/rnn_fast.py`). For each parameter, the figure each oracle is judged by: the largest "
            f"elementwise relative error |a − n| / (|a| + |n|) (*max*), or for central differences the "
            f"norm-relative error ‖a − n‖ / (‖a‖ + ‖n‖) (*norm*); `gradcheck.json` and the gradient-check "
            f"notebook hold both figures of each."
            + missing)


def speed_paragraph(inputs):
    """The fast path's loss and gradients against PyTorch's, as the gradient-check notebook timed them."""
    speed = inputs["gradcheck_settings"].get("speed")
    if speed is None:
        return "The gradient check's folder holds no timing (`speed.json`): run `notebooks/gradient_check.ipynb` again."
    timings = {loss: t for loss, t in speed["timings"].items() if t is not None}
    if not timings:
        return f"No comparison of speed with PyTorch: {gradcheck.TORCH_MISSING}."
    parts = [f"{t['torch_over_fast']:.1f} times as long for the loss {loss} ({1e6 * t['torch']:.0f} µs against "
             f"{1e6 * t['fast']:.0f} µs)" for loss, t in timings.items()]
    version = next(iter(timings.values()))["torch_version"]
    return (f"**Speed.** On the same {speed['sequences']} sequences of {speed['seq_length']} characters and the "
            f"same parameters (m = {speed['m']}, float64, the CPU, one thread each, the two timed in turns), "
            f"PyTorch {version} takes " + "; ".join(parts) + " per sequence's loss and gradients as the fast "
            f"path (`lib/rnn_fast.py`).")


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


def training_words(summary):
    """How a run trained, in words: the optimizer with its settings, the loss and the weights."""
    clip = summary.get("clip", 5.0)
    clipping = "no clipping" if clip is None else f"gradients clipped to [−{clip:g}, {clip:g}]"
    if summary.get("optimizer", "adagrad") == "adam":
        optimizer = (f"Adam (η = {summary['eta']:g}, β1 = {summary['beta1']:g}, β2 = {summary['beta2']:g}, "
                     f"ε = {summary['eps']:g}, {clipping})")
    else:
        optimizer = f"AdaGrad (η = {summary['eta']:g}, {clipping})"
    if summary.get("loss", "sum") == "mean":
        loss = f"the loss of a sequence the mean of its {summary['seq_length']} characters' (nats per character)"
    else:
        loss = f"the loss of a sequence the sum over its {summary['seq_length']} characters"
    weights = ("weights scaled as the 2026 handout says (U ~ N(0, 1/2K), W ~ N(0, 1/2m), V ~ N(0, 1/m))"
               if summary.get("init") == "scaled" else f"weights drawn from N(0, {summary['sigma']:g}²)")
    return f"{optimizer}, {loss}, {weights}"


def protocol_words(summary):
    """'the 2026 handout's protocol' and, where the run differs from it, in what."""
    protocol = summary.get("protocol", "2021")
    # What a handout sets (and the optimizer's own settings): the other settings, the evaluation's
    # schedule say, do not change the protocol a run follows.
    handout = set(training_settings.HANDOUT_SETTINGS) | {"beta1", "beta2", "eps"}
    differing = {k: v for k, v in (summary.get("differing") or {}).items() if k in handout}
    text = f"the {protocol} handout's protocol"
    if differing:
        text += " except " + ", ".join(f"{k} = {v}" for k, v in differing.items())
    return text


def loss_caption(summary):
    """Caption of a run's smooth-loss figure, with its hyperparameters."""
    return (f"Smooth loss of the {summary['epochs']}-epoch run ({summary['steps']:,} updates), in "
            f"{loss_plot.loss_unit(summary)}, by {protocol_words(summary)}: m = {summary['m']}, "
            f"seq_length = {summary['seq_length']}, seed {summary['seed']}, {training_words(summary)}. "
            f"Dotted lines mark the start of each epoch.")


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
            what = (f"the play *{plays.display_title(held['name'])}* ({held['chars']:,} characters), which is not among "
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


def _corpus_name(summary):
    return summary.get("corpus", Path(summary["data_path"]).name)


def introduction(inputs, command):
    """The paragraph under the title: corpus, runs, date, and the command that regenerates it all."""
    first = inputs["runs"][0]["summary"]
    epochs = " and ".join(str(r["summary"]["epochs"]) for r in inputs["runs"])
    return (f"A vanilla RNN with m = {first['m']} hidden units learns to write text one character at a "
            f"time from *{_corpus_name(first)}* ({first['n_chars']:,} characters, K = {first['K']} "
            f"distinct). It was trained by {protocol_words(first)} for {epochs} epochs: "
            f"{training_words(first)}; its smooth loss is in {loss_plot.loss_unit(first)}. Every number, figure and "
            f"sample below was computed by the runs this report was built from, finished on "
            f"{run_date(inputs)}. To regenerate it all: `{command}`.")


def run_date(inputs):
    """The date (UTC) on which the last of the runs finished."""
    return max(r["summary"].get("finished_at", "")[:10] for r in inputs["runs"]) or "an unknown date"


TITLE_MIME = "application/vnd.charrnn.title+json"


def title_metadata(inputs, command):
    """The document's title block: title, subtitle, date (shown as TITLE_MIME output, read by the templates)."""
    first = inputs["runs"][0]["summary"]
    optimizer = "Adam" if first.get("optimizer") == "adam" else "AdaGrad"
    return {"title": f"A character-level vanilla RNN trained with {optimizer}",
            "subtitle": f"The {first.get('protocol', '2021')} handout · corpus: {_corpus_name(first)}, "
                        f"{first['n_chars']:,} characters, K = {first['K']}",
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
