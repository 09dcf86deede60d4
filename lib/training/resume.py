"""What a run folder allows: reuse, continue, train afresh or refuse, by comparing the run it
holds (its status.json) with the one asked for; and whether retrain=True must build the new
run beside it. A run that is reused is shown only when its summary.json agrees with its
checkpoints (``reusable_summary``)."""

from pathlib import Path

from lib import checks
from lib.training import checkpoint, run_files, run_folder, train
from lib.training.settings import RUN_SETTINGS, with_later_defaults


def run_facts(run):
    """What status.json records to recognise the run: its settings and text."""
    p = run["parameters"]
    return {"settings": {k: p[k] for k in RUN_SETTINGS} | record_settings(p), "epochs": p["epochs"],
            "max_steps": p["max_steps"], "planned_steps": run["planned_steps"],
            "snapshot_epochs": p["snapshot_epochs"], "steps_per_epoch": run["steps_per_epoch"],
            "text_sha256": run["text_sha256"], "data_path": str(run["data_file"]),
            "n_chars": len(run["text"]),
            "heldout_sha256": train.text_sha256(run["heldout"]["text"]) if run["heldout"] else None}


def _differences(status, facts):
    there, now = _with_stream_mode(status["settings"]), _with_stream_mode(facts["settings"])
    differ = [f"{k}={there.get(k)!r} there, {now.get(k)!r} now"
              for k in list(now) + [k for k in there if k not in now] if there.get(k) != now.get(k)]
    if status.get("heldout_sha256") != facts["heldout_sha256"]:
        differ.append("held-out text: another one there than now")
    if status["text_sha256"] != facts["text_sha256"]:
        differ.append(f"text: {status['data_path']} ({status['n_chars']:,} characters) there, "
                      f"{facts['data_path']} ({facts['n_chars']:,} characters) now")
    return differ


def decide(folder, facts):
    """("new" | "reuse" | "continue", status) for a claimed folder, or RunFolderError."""
    state, status = run_folder.folder_state(folder)
    if state == "new":
        return "new", None
    differ = _differences(status, facts)
    if differ:
        raise run_folder.RunFolderError(
            f"out_dir {folder} holds a run with other settings ({'; '.join(differ)}): choose another "
            f"out_dir, or pass retrain=True to replace it (nothing was touched)")
    done = status["step"] if state == "finished" else checkpoint_step(folder)
    if done is None:
        return "new", status  # interrupted before its first checkpoint: nothing to continue
    if done > facts["planned_steps"]:
        raise run_folder.RunFolderError(
            f"out_dir {folder} holds a run already {done:,} updates long, more than the "
            f"{facts['planned_steps']:,} asked for (epochs={facts['epochs']}, max_steps={facts['max_steps']}): "
            f"choose another out_dir, or pass retrain=True to replace it (nothing was touched)")
    passed = [k for k in facts["snapshot_epochs"] if k * facts["steps_per_epoch"] <= done
              and not (Path(folder) / f"epochs_{k}" / checkpoint.LAST_CHECKPOINT).is_file()]
    if passed:
        raise run_folder.RunFolderError(
            f"out_dir {folder} holds a run that went past epoch {passed[0]} without keeping its end "
            f"(snapshot_epochs): pass retrain=True to train it again with it (nothing was touched)")
    if state == "finished" and done == facts["planned_steps"]:
        return "reuse", status
    return "continue", status


def checkpoint_step(folder):
    """The step of folder's last.npz, or None when there is none or it cannot be read (see
    ``unreadable_checkpoint``)."""
    path = Path(folder) / checkpoint.LAST_CHECKPOINT
    if not path.is_file():
        return None
    try:
        return checkpoint.load(path)[1]["step"]
    except (checkpoint.CheckpointError, KeyError):
        return None


def unreadable_checkpoint(folder):
    """What is wrong with folder's last.npz when it is there but cannot be continued from, else None."""
    path = Path(folder) / checkpoint.LAST_CHECKPOINT
    if not path.exists():
        return None
    try:
        step = checkpoint.load(path)[1].get("step")
    except checkpoint.CheckpointError as err:
        return err.reason
    return None if isinstance(step, int) else "no step in its metadata"


def discarded_line(folder, status):
    """The line saying what a fresh start in folder throws away, or None when it throws away nothing
    that could have been continued (no checkpoint, or none yet)."""
    reason = unreadable_checkpoint(folder)
    if reason is None:
        return None
    reached = f" (it was the checkpoint of update {status['step']:,})" if status and status.get("step") else ""
    return (f"discarded {Path(folder) / checkpoint.LAST_CHECKPOINT}, which cannot be continued from: "
            f"{reason}{reached}; training starts again from update 0")


def reusable_summary(folder):
    """The summary.json of the finished run in folder, checked against its checkpoints.

    summary.json is what the notebooks show of a reused run; its best step and smooth loss must
    be best.npz's, its updates and final smooth loss last.npz's. Raises RunFolderError naming
    each disagreement (a hand-edited or damaged file), or a checkpoint that cannot be read.
    """
    folder = Path(folder)
    summary = run_files.read_summary(folder)
    metas = {}
    for name in (checkpoint.BEST_MODEL, checkpoint.LAST_CHECKPOINT):
        try:
            metas[name] = checkpoint.load(folder / name)[1]
        except checkpoint.CheckpointError as err:
            raise run_folder.RunFolderError(
                f"out_dir {folder} holds a finished run whose {name} cannot be read ({err.reason}): pass "
                f"retrain=True to train it afresh, or choose another out_dir (nothing was touched)") from None
    pairs = (("best step", "best_step", checkpoint.BEST_MODEL, "step"),
             ("best smooth loss", "best_smooth_loss", checkpoint.BEST_MODEL, "smooth_loss"),
             ("updates", "steps", checkpoint.LAST_CHECKPOINT, "step"),
             ("final smooth loss", "final_smooth_loss", checkpoint.LAST_CHECKPOINT, "smooth_loss"))
    differ = [f"{what} {_shown(summary[key])} there, {_shown(metas[name].get(meta_key))} in {name}"
              for what, key, name, meta_key in pairs if summary[key] != metas[name].get(meta_key)]
    if differ:
        raise run_folder.RunFolderError(
            f"out_dir {folder} holds a finished run whose summary.json disagrees with its checkpoints "
            f"({'; '.join(differ)}): it was edited or damaged; pass retrain=True to train it afresh, or "
            f"choose another out_dir (nothing was touched)")
    return summary


def _shown(value):
    # Every digit of a float: two losses that differ must not read the same.
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)


def reuse_without_claim(folder, facts):
    """The checked summary of the finished run of these settings in a folder this process may
    only read (which no one can be training in), or None when it holds anything else."""
    if run_folder.settle_pending(folder):
        return None
    try:
        action = decide(folder, facts)[0]
    except run_folder.RunFolderError:
        return None
    return reusable_summary(folder) if action == "reuse" else None


def needs_aside(out, facts):
    """Whether retrain=True must build beside out: only a finished run, or an unfinished one of
    other settings, has something to keep whole; an interrupted run of these settings is the
    run asked for, part-way (continuing it gives the numbers training afresh would)."""
    state = run_folder.folder_state(out)[0]  # (unfinished reads "running": the caller holds the lock)
    if state == "new":
        return False
    if state == "finished":
        return True
    try:
        decide(out, facts)
    except run_folder.RunFolderError:
        return True
    return False


def retrained_by_claim(held, facts):
    """Whether the claim put in a killed retrain's finished run of these very settings: the run a
    retrain now would train again, update for update."""
    if not held.settled_new:
        return False
    try:
        return decide(held.folder, facts)[0] == "reuse"
    except run_folder.RunFolderError:
        return False


def decide_aside(aside, facts):
    """"continue" a retrain's own interrupted build, else "new" with the aside folder cleared."""
    try:
        action = decide(aside, facts)[0]
    except run_folder.RunFolderError:
        action = "new"
    if action != "continue":
        run_folder.remove_run_files(aside)
        action = "new"
    return action



def record_settings(p):
    """The record settings that are part of a record-mode run's identity (none in stream mode)."""
    return {k: p[k] for k in checks.RECORD_MODE} if p.get("records") else {}


def _with_stream_mode(settings):
    """Settings with records=False made explicit (a stream run's settings do not name it)."""
    settings = with_later_defaults(settings)
    return settings if "records" in settings else dict(settings, records=False)
