"""One training run as the notebook and make see it: settings in, a finished run folder out.

``plan`` checks every setting and reads the text before anything else;
``execute`` claims the folder and then, by what the folder holds (see
``lib.training.run_folder``; ``lib.training.resume`` compares it with the run asked for,
and ``lib.training.finish`` writes a finished run's files):

* nothing, or an interrupted run without a checkpoint: trains afresh;
* a finished run of the same settings and length: reuses it, training nothing;
* an interrupted run, or a finished one asked for more updates: continues it
  from ``last.npz`` (bitwise the run that was never interrupted);
* a run of other settings: refuses, naming each difference, touching nothing;
* ``retrain=True``: trains afresh beside the folder and swaps the new run in
  only when it has finished; an interrupted run of the same settings has no
  finished result to keep, so it is continued in place (the same numbers as
  training it afresh, bitwise, without the updates already made).

An interrupt (Ctrl-C, Jupyter's stop button) ends training between two updates with a
checkpoint there (lib.training.stopping), in ``TrainingInterrupted``, one line saying which
checkpoint was kept, and how many updates a continued run does again when the interrupt could
not wait for the update under way; a diverging run in ``TrainingDiverged``, one line saying
what the folder holds. A run that nothing could stop cleanly (a kill) leaves in status.json
the update it had reached (every ``REACHED_EVERY_SECONDS``), so the run that continues it says
how many updates it does again.
"""

import time
from pathlib import Path

from lib import checks, paths
from lib.records import record_files, record_walk
from lib.text import corpus, sidecar
from lib.training import run_files, run_folder, train
from lib.training import settings as table
from lib.training.finish import finish, finish_snapshot
from lib.training.loss_plot import loss_text
from lib.training.progress import make_progress
from lib.training.resume import (
    checkpoint_step,
    decide,
    decide_aside,
    discarded_line,
    needs_aside,
    record_settings,
    retrained_by_claim,
    reusable_summary,
    reuse_without_claim,
    run_facts,
)

PARAMETERS = checks.NOTEBOOKS["train"]
# How often status.json records the update a run has reached, beside its last checkpoint's: what a
# kill loses is then known to within these seconds of training, at the cost of a small write.
REACHED_EVERY_SECONDS = 2.0
# The train notebook's defaults (tests/test_lifecycle.py checks that they agree).
DEFAULTS = table.DEFAULTS


class _OneLine:
    """Shown by IPython (Jupyter, papermill) as its message alone: the user did nothing wrong
    that a traceback into the training loop would help with."""

    def _render_traceback_(self):
        return [f"{type(self).__name__}: {self}"]


class TrainingInterrupted(_OneLine, KeyboardInterrupt):
    """Training stopped by an interrupt; the message says what was kept and how to continue."""


class TrainingDiverged(_OneLine, train.TrainingDiverged):
    """The loss became NaN or infinite; the message says what the run folder was left holding."""


def default_out_dir(settings, data_path, epoch_steps=None):
    """The run's folder when out_dir is None (resolved settings; README, "Run folder names"): runs/train_, the
    run's length, <epochs>ep, or <max_steps>steps when max_steps ends it before its epochs do (epoch_steps:
    updates an epoch; None, not known: whenever max_steps is given), then _<protocol> unless it is the
    default one, the text's name, and each setting that differs from the protocol's as
    lib.training.settings.NAME_TAGS writes it."""
    cut = settings["max_steps"]
    shorter = cut is not None and (epoch_steps is None or cut < epoch_steps * settings["epochs"])
    name = f"train_{cut}steps" if shorter else f"train_{settings['epochs']}ep"
    name += _named_settings(settings, data_path, lambda key: table.NAME_TAGS.get(key, key))
    return paths.RUNS_DIR / (name + _records_suffix(settings))


def earlier_out_dir(settings, data_path):
    """The folder that earlier versions gave the run, before names said its length: train_<epochs>ep, the
    settings by their whole names, and _max_steps<n> whenever max_steps was given (still continued)."""
    name = f"train_{settings['epochs']}ep" + _named_settings(settings, data_path, lambda key: key)
    if settings["max_steps"] is not None:
        name += f"_max_steps{settings['max_steps']}"
    return paths.RUNS_DIR / (name + _records_suffix(settings))


def _named_settings(settings, data_path, tag):
    """_<protocol> unless it is the default one, _<the text's name>, then _<tag><value> for each setting
    that differs from the protocol's, and _raw_newlines."""
    name = f"_{settings['protocol']}" if settings["protocol"] != table.DEFAULT_PROTOCOL else ""
    if data_path is not None:
        name += f"_{Path(data_path).stem}"
    for key, value in table.differing(settings):
        name += "_plain" if key == "fast" else f"_{tag(key)}{table.describe_value(value)}"
    if settings["keep_carriage_returns"]:
        name += "_raw_newlines"
    return name


def _out_folder(p, epoch_steps):
    """(the run's folder, the name runs have now when it is a folder named the earlier way, else None).

    With out_dir None: the default name, unless only the name of earlier versions holds a run, which is
    then continued where it is rather than trained again under the new name."""
    named = default_out_dir(p, p["data_path"], epoch_steps)
    if p["out_dir"] is None or str(p["out_dir"]) == "":
        earlier = earlier_out_dir(p, p["data_path"])
        if earlier != named and not named.exists() and (earlier / run_folder.STATUS).is_file():
            return earlier, named
    return paths.user_path(p["out_dir"], named), None


def resolve(parameters):
    """The train notebook's checked parameters with the protocol's settings filled in (resolved:
    clip None is no clipping), and the names of the protocol's settings they override."""
    try:
        resolved, overrides = table.resolve(**table.train_arguments(parameters))
    except table.SettingsError as err:
        raise checks.ParameterError(str(err)) from None
    return dict(parameters, **resolved), overrides


def plan(**parameters):
    """Check the parameters, read the text, decide the folder: a dict for ``execute``.

    Takes the train notebook's parameters (``PARAMETERS``; those not given take
    the notebook's defaults); raises checks.ParameterError or corpus.CorpusError
    in one line before any work.
    """
    unknown = sorted(set(parameters) - set(PARAMETERS))
    if unknown:
        raise checks.ParameterError(f"unknown parameter {unknown[0]!r}")
    p, overrides = resolve(checks.check_all(PARAMETERS, dict(DEFAULTS, **parameters)))
    data_file = paths.corpus_path(p["data_path"])
    if p["records"]:
        return _plan_records(p, data_file)
    text, converted = corpus.read(data_file, p["keep_carriage_returns"])
    n_train = corpus.split_train_val(len(text), p["val_fraction"], p["seq_length"])
    if train.steps_per_epoch(n_train, p["seq_length"]) == 0:
        raise corpus.CorpusError(f"{data_file}: too short for one update of seq_length {p['seq_length']}")
    train.check_order_fits(p, False, None)
    steps_per_epoch = train.walk_steps(n_train, p)  # (order, chunks, val_chunk, batch_size: lib.training.parts)
    out, named_now = _out_folder(p, steps_per_epoch)
    vocab = corpus.build_vocab(text)
    later = [k for k in p["snapshot_epochs"] if k >= p["epochs"]]
    if later:
        raise checks.ParameterError(f"snapshot_epochs must be fewer than epochs={p['epochs']}, got {later[0]}")
    cut = [k for k in p["snapshot_epochs"] if p["max_steps"] is not None and k * steps_per_epoch > p["max_steps"]]
    if cut:
        raise checks.ParameterError(f"snapshot_epochs: epoch {cut[0]} ends after max_steps={p['max_steps']}")
    check_memory(len(vocab), p)
    # A val_chunk is the run's held-out set in place of the default corpus's held-out play (one at a time).
    heldout = _heldout(data_file, p["val_fraction"], vocab) if p["val_chunk"] is None else None
    planned = steps_per_epoch * p["epochs"]
    return {"parameters": p, "data_file": data_file, "text": text, "converted": converted,
            "vocab": vocab, "out": out, "named_now": named_now, "text_sha256": train.text_sha256(text),
            "heldout": heldout, "steps_per_epoch": steps_per_epoch, "records": None,
            "planned_steps": planned if p["max_steps"] is None else min(planned, p["max_steps"])}


def memory_needed(K, p):
    """Bytes a run's arrays take, roughly: the parameters, the best model's copy, the gradients, the
    optimizer's state and scratch (AdaGrad one array each, Adam two), and the passes' workspace."""
    m, n = p["m"], p["seq_length"]
    per_copy = 8 * (2 * m * K + m * m + m + K)
    copies = 3 + (4 if p["optimizer"] == "adam" else 2)
    return per_copy * copies + 8 * (n + 1) * (6 * m + 3 * K)


def check_memory(K, p):
    """ParameterError, before anything is allocated, for a model that cannot fit in the memory available."""
    import psutil

    needed, available = memory_needed(K, p), psutil.virtual_memory().available
    if needed > available:
        raise checks.ParameterError(
            f"m={p['m']}: the model, its gradients and the optimizer's state need about {needed / 2**30:,.1f} GB "
            f"of memory, more than the {available / 2**30:,.1f} GB available here: choose a smaller m")


def _heldout(data_file, val_fraction, vocab):
    """The default corpus's held-out play ({"name", "path", "text"}) when no tail is held out, else None."""
    path = sidecar.heldout_path(data_file) if val_fraction == 0 else None
    if path is None:
        return None
    text = corpus.read_text(path)
    outside = sorted(set(text) - set(vocab))
    if outside:
        raise corpus.CorpusError(f"held-out text {path} has characters outside the vocabulary: {''.join(outside)!r}")
    return {"name": sidecar.read_info(data_file)["heldout"]["play"], "path": str(path), "text": text}


def describe(run):
    """What plan found, for the notebook to print."""
    p = run["parameters"]
    differ = ", ".join(f"{k}={table.describe_value(v)}" for k, v in table.differing(p))
    lines = [f"protocol: the {p['protocol']} handout ({p['optimizer']}, eta={p['eta']:g}, loss {p['loss']} over "
             f"the sequence, init {p['init']}, clip {table.describe_value(p['clip'])})"
             + (f"; not the defaults: {differ}" if differ else ""),
             f"text: {run['data_file']}",
             f"{len(run['text']):,} characters, K = {len(run['vocab'])}, "
             f"{run['planned_steps']:,} updates planned; run folder {run['out']}"]
    if run.get("named_now"):
        lines.append(f"(the name an earlier version gave this run: it is used where it is; runs of these "
                     f"settings are now named {run['named_now'].name})")
    if run["heldout"]:
        every = run["parameters"]["eval_every"]
        when = (f"every {every:,} updates" if every <= run["planned_steps"] else
                f"for the best model at the end (eval_every={every:,} is more than the {run['planned_steps']:,} "
                f"updates planned)")
        lines.append(f"held out, never trained on: {run['heldout']['name']} ({len(run['heldout']['text']):,} "
                     f"characters), its bits per character {when}")
    if run["converted"]:
        lines.append(f"converted {run['converted']:,} Windows or old-Mac line endings to \\n "
                     f"(keep_carriage_returns=True keeps them)")
    if run.get("records"):
        lines.append(record_walk.describe(run["records"]))
    if len(run["vocab"]) == 1:
        lines.append(f"warning: the text has a single distinct character ({run['vocab'][0]!r}): "
                     f"the model has nothing to learn")
    return "\n".join(lines)


def execute(run, progress="auto", progress_label=None):
    """Claim the folder, then reuse, continue or train it; returns {"action", "out", "summary", ...}.

    progress: "auto" (a bar in Jupyter, plain lines on the terminal otherwise: see
    progress.auto_mode), "lines", "bar", "bar+lines" or None.
    """
    p, out = run["parameters"], Path(run["out"])
    facts = run_facts(run)
    progress_label = progress_label or f"{out.parent.name}/{out.name}"
    run_folder.require_own_folder(out)
    try:
        held = run_folder.claim(out)
    except run_folder.FolderNotWritable:
        # Showing a finished run again needs no writing: a folder that may only be read is shown as it is.
        summary = reuse_without_claim(out, facts)
        if summary is None:
            raise
        return {"summary": summary, "action": "reuse", "out": out, "took_over": None, "settled": None,
                "read_only": True}
    with held:
        took_over = held.previous_holder
        # What the notebooks reading the run wrote into it goes with the model it describes: said, not silent.
        outputs, before = run_folder.readers_outputs(out), run_folder.read_status(out)
        try:
            if p["retrain"] and needs_aside(out, facts) and not retrained_by_claim(held, facts):
                aside = run_folder.aside_folder(out)
                with run_folder.claim(aside):
                    result = _train_in(run, aside, decide_aside(aside, facts), progress, progress_label, facts)
                run_folder.swap_in(out)  # after the aside folder's lock is let go: Windows renames no open file
                action = "retrained"
            else:
                action = decide(out, facts)[0]
                if action == "reuse":
                    result = {"summary": reusable_summary(out)}
                else:
                    result = _train_in(run, out, action, progress, progress_label, facts)
        except (TrainingInterrupted, TrainingDiverged) as err:
            removed = run_folder.removed_line(out, outputs, _why_removed(before, p["retrain"]))
            if removed:
                raise type(err)(f"{err}; {removed}") from None
            raise
    result.update(action=action, out=out, took_over=took_over, settled=held.settled,
                  removed=run_folder.removed_line(out, outputs, _why_removed(before, p["retrain"])))
    return result


def _why_removed(before, retrain):
    """Why the notebooks' files of the run in a folder go when it is trained again (before: its status)."""
    if retrain or before is None:
        return f"made from the model of the run this {'retrain' if retrain else 'training'} replaced"
    return f"made from the model of update {before.get('step', 0):,}, before this training continued the run"


def _train_in(run, folder, action, progress, label, facts):
    """Train (afresh or continued) in a claimed folder and write every run file; returns the result."""
    p = run["parameters"]
    discarded = None
    if action == "new":
        discarded = discarded_line(folder, run_folder.read_status(folder))
        run_folder.remove_run_files(folder)
    before = run_folder.read_status(folder) if action == "continue" else None
    status = run_folder.write_status(folder, "running", step=checkpoint_step(folder) or 0, **facts)
    run_folder.remove_derived(folder)
    start_step = status["step"]
    redone = _redone_line(before, start_step)
    if redone:
        print(redone, flush=True)
    reporter = make_progress(run["planned_steps"], label, start_step, mode=progress)
    heldout = run["heldout"]

    kept = {"step": start_step, "at": time.monotonic()}

    def on_event(event):
        # status.json's step follows the checkpoints (the snapshots' own folders excepted), and its
        # "reached" the updates done since, now and then: what a kill would make the next run redo.
        if event["kind"] == "checkpoint" and Path(event["path"]).parent == Path(folder):
            kept.update(step=event["step"], at=time.monotonic())
            run_folder.write_status(folder, "running", step=event["step"], **facts)
        elif event["kind"] == "log" and time.monotonic() - kept["at"] >= REACHED_EVERY_SECONDS:
            kept["at"] = time.monotonic()
            run_folder.write_status(folder, "running", step=kept["step"], reached=event["step"], **facts)
        reporter(event)

    try:
        try:
            state = train.train(
                run["text"], folder, resume=action == "continue", data_path=str(run["data_file"]),
                on_event=on_event, heldout_text=heldout["text"] if heldout else None,
                snapshot_epochs=p["snapshot_epochs"], **{k: p[k] for k in table.TRAIN_SETTINGS},
                record_mode=None if not run.get("records") else record_walk.record_mode(
                    run["records"]["boundary"], record_settings(p), run["records"]["facts"]))
        finally:
            reporter.close()
        for k in p["snapshot_epochs"]:
            finish_snapshot(run, folder / f"epochs_{k}", k)
        summary = finish(run, folder, state, p["epochs"], facts)
    except train.TrainingDiverged as err:
        raise TrainingDiverged(f"{err}; {_diverged_folder(folder, p)}") from None
    except KeyboardInterrupt as err:
        if isinstance(err, TrainingInterrupted):
            raise
        raise TrainingInterrupted(_interrupted_line(run, folder, facts, getattr(err, "reached", None))) from None
    except Exception:
        # A run that failed before its first checkpoint holds nothing to continue: no claim is left
        # behind (its status would refuse the next run of other settings as if one were there).
        if checkpoint_step(folder) is None:
            (Path(folder) / run_folder.STATUS).unlink(missing_ok=True)
        raise
    return {"summary": summary, "state": state, "trained_from": start_step, "discarded": discarded,
            "progress_seconds": reporter.seconds,
            "progress_share": reporter.seconds / max(state["timing"]["loop_seconds"], 1e-9)}


def _interrupted_line(run, folder, facts, reached=None):
    """What an interrupt kept, and how to go on from there; reached: the updates training had done
    (None: not known, the interrupt came before or after the training loop)."""
    # The numbers come first, before any folder's path: within the first 80 columns, where no
    # terminal or output area breaks the line inside them.
    kept = checkpoint_step(folder)
    if Path(folder) == run_folder.aside_folder(run["out"]):
        what = f"the new run, aside in {folder} ({run['out']} still holds the previous run, untouched),"
        again = "run again with retrain=True"
    else:
        what, again = str(folder), "run the notebook again with the same settings"
    every = run["parameters"]["checkpoint_every"]
    if kept is None and not reached:
        return (f"interrupted before the first checkpoint (every {every:,} updates): {what} keeps nothing of "
                f"this training; {again} to train from the start")
    if kept is None:
        return (f"interrupted at update {reached:,} of {facts['planned_steps']:,}, before the first checkpoint "
                f"(every {every:,} updates): {what} keeps nothing of this training; {again} to train from the "
                f"start (those {reached:,} updates will be done again)")
    if reached is None or reached <= kept:
        return (f"interrupted at update {kept:,} of {facts['planned_steps']:,}, the last checkpoint: {what} "
                f"keeps it; {again} to continue from there")
    # An interrupt that could not wait for the update under way to end (a second one, or SIGINT not ours
    # to take over: lib.training.stopping): the state was not whole, the last checkpoint is older.
    return (f"interrupted at update {reached:,} of {facts['planned_steps']:,}, {reached - kept:,} updates past "
            f"the last checkpoint: {what} keeps update {kept:,}; {again} to continue from there (those "
            f"{reached - kept:,} updates will be done again)")


def _redone_line(status, kept):
    """The line saying how many updates a continued run does again, when its folder's status.json says
    it had gone past its last checkpoint (kept) and was then stopped with no checkpoint written (a kill)."""
    reached = (status or {}).get("reached")
    if not isinstance(reached, int) or reached <= kept:
        return None
    return (f"continuing from the last checkpoint, update {kept:,}: the run there had reached update "
            f"{reached:,} (at least) and was stopped with no checkpoint written (killed, or its kernel died), "
            f"so {reached - kept:,} updates will be done again")


# Initial weights this many times the 2021 handout's sigma (0.01) saturate tanh and blow up the logits:
# a divergence then comes from them rather than from eta.
LARGE_SIGMA = 0.1


def _likely_cause(p):
    """What to change after a divergence: the initial weights' scale when it is far above the
    handout's, else the learning rate."""
    if p.get("init") == "normal" and p.get("sigma") is not None and p["sigma"] > LARGE_SIGMA:
        return f"smaller initial weights (sigma={p['sigma']:g}; the 2021 handout's is 0.01), or a smaller eta"
    return f"a smaller eta (eta={p['eta']:g})"


def _diverged_folder(folder, p):
    """Leave a diverged run's folder in a state the next run handles, and say which and what to change."""
    kept = checkpoint_step(folder)
    if kept is None:
        # Nothing to continue: an empty folder trains afresh next time, with any settings.
        (Path(folder) / run_folder.STATUS).unlink(missing_ok=True)
        return f"{folder} was left empty (a new run folder): train again with {_likely_cause(p)}"
    return (f"{folder} is left interrupted at update {kept:,}, where the same settings would diverge "
            f"again: train with {_likely_cause(p)} in another out_dir, or pass retrain=True")


def report_line(result):
    """One line on what execute did."""
    s, out = result["summary"], result["out"]
    lines = [result["settled"]] if result.get("settled") else []
    if result["took_over"]:
        lines.append(f"took over {out}: the process that was training it "
                     f"(pid {result['took_over'].get('pid')} on {result['took_over'].get('host')}) no longer runs")
    if result.get("discarded"):
        lines.append(result["discarded"])
    if result.get("removed"):
        lines.append(result["removed"])
    if result["action"] == "reuse":
        where = f"{out} (a folder this process may only read)" if result.get("read_only") else out
        lines.append(f"reused the finished run in {where}: nothing trained ({s['steps']:,} updates, same "
                     f"settings). To train afresh: retrain=True, or another out_dir.")
    elif result["state"]["timing"]["steps_this_session"] == 0:
        lines.append(f"finished {out}: its last checkpoint was already at update {s['steps']:,}, the end, so "
                     f"nothing was trained now; its summary, history, samples and loss figure were written")
    else:
        verb = {"new": "trained", "continue": "continued", "retrained": "retrained"}[result["action"]]
        lines.append(f"{verb} {out}: updates {result['trained_from']:,} to {s['steps']:,}, "
                     f"{s['us_per_step']:.0f} us of CPU time per update (the progress shows wall-clock "
                     f"time); progress display {100 * result['progress_share']:.2g}% of training time")
    lines.append(f"best smooth loss {loss_text(s['best_smooth_loss'])} at step {s['best_step']:,}; "
                 f"final {loss_text(s['final_smooth_loss'])}")
    return "\n".join(lines)


def _records_suffix(settings):
    """'_records', then _len<n> and _field<name> where they are not the defaults ('' in stream mode)."""
    if not settings.get("records"):
        return ""
    suffix = "_records"
    if settings.get("max_record_len", record_files.DEFAULT_MAX_LEN) != record_files.DEFAULT_MAX_LEN:
        suffix += f"_len{settings['max_record_len']}"
    if settings.get("record_field", record_files.DEFAULT_FIELD) != record_files.DEFAULT_FIELD:
        suffix += f"_field{settings['record_field']}"
    return suffix


def _plan_records(p, data_file):
    """plan() for record mode: read the records file, join the records, count the updates."""
    train.check_order_fits(p, True, None)
    # The updates of all epochs (max_steps None), to name the run by its length.
    prepared = record_walk.prepare_run(data_file, p["record_field"], p["max_record_len"],
                                   p["keep_carriage_returns"], p["val_fraction"], p["seq_length"],
                                   p["epochs"], None)
    text, epoch_steps = prepared["text"], prepared["planned_steps"] // p["epochs"]
    if p["max_steps"] is not None:
        prepared["planned_steps"] = min(prepared["planned_steps"], p["max_steps"])
    out, named_now = _out_folder(p, epoch_steps)
    if p["snapshot_epochs"]:
        raise checks.ParameterError("snapshot_epochs is not available in record mode (records=True)")
    check_memory(len(corpus.build_vocab(text)), p)
    return {"parameters": p, "data_file": data_file, "text": text, "converted": prepared["converted"],
            "vocab": corpus.build_vocab(text), "out": out, "named_now": named_now,
            "text_sha256": train.text_sha256(text), "records": prepared,
            "planned_steps": prepared["planned_steps"], "heldout": None, "steps_per_epoch": epoch_steps}
