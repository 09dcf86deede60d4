"""Issue 17's cases as a hostile user meets them: each ends as the README promises or in one line.

Each test goes through the interface the user used: make on a small text, a notebook run by
papermill, or the library where that is the interface (an interrupt arrives in the kernel as
KeyboardInterrupt, which a progress callback raises here).
"""

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

import matplotlib.figure
import numpy as np
import pytest
from nbrun import ok, papermill
from toy_corpus import learnable_text
from toy_run import TOY, params, run_lib

from lib import atomic, paths
from lib.report import spread
from lib.training import checkpoint, loss_plot, progress, run_files, run_folder, runner, train

NOTEBOOKS = paths.REPO_ROOT / "notebooks"


def plan(text_file, out, **extra):
    return runner.plan(**params(text_file, out, **extra))


def derived_left(folder):
    return sorted(name for name in run_folder.DERIVED if (folder / name).exists())


def interrupt_at(monkeypatch, step):
    """Make the progress callback raise KeyboardInterrupt at the first log event at or past step: an
    interrupt that does not wait for the update under way to end (a second Ctrl-C; the first one waits,
    tests/test_residue_runs.py), so the last checkpoint is older than the update reached."""
    def progress_raising(total, label, start_step=0, mode="auto"):
        def on_event(event):
            if event["kind"] == "log" and event["step"] >= step:
                raise KeyboardInterrupt
        on_event.close = lambda: None
        on_event.seconds = 0.0
        return on_event
    monkeypatch.setattr(runner, "make_progress", progress_raising)


# ----------------------------------------------------------- 1: Ctrl-C in make, then make again

def make(*args, cwd, **popen):
    return subprocess.Popen(["make", "--no-print-directory", "-C", str(paths.REPO_ROOT), *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


@pytest.mark.skipif(sys.platform == "win32", reason="make and process groups")
def test_ctrl_c_in_the_first_make_then_make_again_continues_from_the_checkpoint(tmp_path):
    data = tmp_path / "tiny.txt"
    data.write_text(learnable_text(n_words=10_000), encoding="utf-8")  # 43,386 characters, 1,735 updates an epoch
    runs_dir = tmp_path / "r"
    run = runs_dir / "seed0" / "train_20ep"
    args = [f"{run}/summary.json", f"DATA={data}", f"RUNS={runs_dir}", "SEEDS=0", "EPOCHS=20",
            "EVAL_EVERY=1000"]
    # A terminal's Ctrl-C goes to the whole foreground process group: make and its stages.
    first = make(*args, cwd=tmp_path, start_new_session=True)
    try:
        wait_for(lambda: (run_folder.read_status(run) or {}).get("step", 0) >= 10_000 or first.poll() is not None,
                 timeout=300)
        assert first.poll() is None, "the run ended before it could be interrupted:\n" + first.stderr.read()
        os.killpg(first.pid, signal.SIGINT)
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert first.returncode != 0
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    interrupted = [line for line in err.splitlines() if line.startswith("interrupted")]
    assert len(interrupted) == 1 and "seed0/train_20ep" in interrupted[0], err
    kept = checkpoint.load(run / "last.npz")[1]["step"]
    assert kept >= 10_000 and not (run / "summary.json").exists()

    second = make(*args, cwd=tmp_path)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-3000:]
    assert f"seed0/train_20ep: {kept:,}/" in err  # the progress line: where training took up again
    executed = (run / "train.ipynb").read_text(encoding="utf-8")
    assert f"continued {run}: updates {kept:,} to " in executed
    assert run_folder.folder_state(run)[0] == "finished"


def wait_for(predicate, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_retrain_true_continues_an_interrupted_run_of_the_same_settings_in_place(text_file, tmp_path,
                                                                                  monkeypatch):
    out = tmp_path / "run"
    interrupt_at(monkeypatch, 120)
    with pytest.raises(runner.TrainingInterrupted):
        run_lib(text_file, out, max_steps=200)
    monkeypatch.undo()
    result = run_lib(text_file, out, max_steps=200, retrain=True)
    assert (result["action"], result["trained_from"]) == ("continue", 100)
    assert not run_folder.aside_folder(out).exists()
    fresh = run_lib(text_file, tmp_path / "fresh", max_steps=200)
    for name in ("best.npz", "last.npz"):
        a, b = checkpoint.load(out / name)[0], checkpoint.load(tmp_path / "fresh" / name)[0]
        assert all(a[k].tobytes() == b[k].tobytes() for k in a), name
    assert result["summary"]["best_smooth_loss"] == fresh["summary"]["best_smooth_loss"]


# ----------------------------------------------------------- 2 and 12: make's variables

@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("setting, named", [
    ("SEEDS=", "SEEDS is empty"),
    ("SEEDS=0 0", "SEEDS names a value twice"),
    ("SEEDS=010 8", "SEEDS must be non-negative integers in plain decimals"),
    ("SEEDS=1.5", "SEEDS must be non-negative integers in plain decimals"),
    ("EPOCHS=1 0", "EPOCHS must be positive integers"),
    ("EPOCHS=", "EPOCHS is empty"),
    ("EVAL_EVERY=1e3", "EVAL_EVERY must be a positive integer"),
    ("EVAL_EVERY=", "EVAL_EVERY is empty"),
    ("JOBS=0", "JOBS must be a positive integer"),
    ("JOBS=two", "JOBS must be a positive integer"),
    ("RECORDS_EPOCHS=-1", "RECORDS_EPOCHS must be a positive integer"),
    ("BONUS_SEEDS=0 0", "BONUS_SEEDS names a value twice"),
    ("BONUS_UPDATES=abc", "BONUS_UPDATES must be a positive integer"),
    ("BONUS_CHUNKS=0", "BONUS_CHUNKS must be a positive integer"),
    ("BONUS_VAL_CHUNK=10", "BONUS_VAL_CHUNK must be in 0..BONUS_CHUNKS-1 = 0..9, got 10"),
    ("BONUS_EVAL_EVERY=", "BONUS_EVAL_EVERY is empty"),
    ("DATA=my book.txt", "DATA: \"my book.txt\" has a space in its name"),
    ("DATA=nothing.txt", "DATA: no such file: nothing.txt"),
])
def test_every_make_variable_is_checked_in_one_line_naming_it(setting, named, tmp_path):
    (tmp_path / "my book.txt").write_text(learnable_text(), encoding="utf-8")
    runs_dir = tmp_path / "r"
    done = make("runs", setting, f"RUNS={runs_dir}", cwd=tmp_path)
    out, err = done.communicate(timeout=60)
    assert done.returncode != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], err
    assert not runs_dir.exists() and not out.strip()  # refused before any stage ran


def test_the_spread_counts_a_repeated_run_once():
    def seed_run(seed, loss_5, loss_10, folder):
        return {"seed": seed, "dir": folder, "history": {"step": [0, 10], "smooth_loss": [50.0, loss_10],
                                                          "val_bpc": [float("nan")] * 2},
                "by_epochs": {5: {"best_step": 5, "best_smooth_loss": loss_5, "heldout": None},
                              10: {"best_step": 10, "best_smooth_loss": loss_10, "heldout": None}}}
    same = [seed_run(0, 45.0, 44.0, "r/seed0/train_10ep"), seed_run(0, 45.0, 44.0, "r/seed0/train_10ep")]
    text = spread.spread_text(same)
    assert "more than the seed-to-seed spread" not in text
    assert "counts once" in text and "there is no spread over initialisations to measure" in text
    # Folders seed010 and seed8 trained with seed 8 (YAML's octal): the same numbers, one draw.
    octal = [seed_run(8, 45.0, 44.0, "r/seed010/train_10ep"), seed_run(8, 45.0, 44.0, "r/seed8/train_10ep"),
             seed_run(1, 46.0, 44.5, "r/seed1/train_10ep")]
    text = spread.spread_text(octal)
    assert "Over 2 seeds" in text and "seed010" in text
    assert spread.spread_table(octal).count("| 8 |") == 1


# ----------------------------------------------------------- 5 and 14: status follows checkpoints; interrupt

def test_interrupt_ends_in_one_line_naming_the_kept_checkpoint_and_status_follows_it(text_file, tmp_path,
                                                                                     monkeypatch):
    out = tmp_path / "run"
    interrupt_at(monkeypatch, 170)
    with pytest.raises(runner.TrainingInterrupted) as info:
        run_lib(text_file, out, max_steps=300)
    assert isinstance(info.value, KeyboardInterrupt)  # still an interrupt for code that stops on one
    message = str(info.value)
    assert message == (f"interrupted at update 170 of 300, 20 updates past the last checkpoint: {out} keeps update "
                       f"150; run the notebook again with the same settings to continue from there (those 20 "
                       f"updates will be done again)")
    assert info.value._render_traceback_() == [f"TrainingInterrupted: {message}"]  # what Jupyter shows
    assert run_folder.read_status(out)["step"] == 150 == checkpoint.load(out / "last.npz")[1]["step"]
    with pytest.raises(run_folder.RunFolderError, match="interrupted at step 150 of 300"):
        run_folder.require_finished(out)
    monkeypatch.undo()
    result = run_lib(text_file, out, max_steps=300)
    assert (result["action"], result["trained_from"]) == ("continue", 150)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT, as Jupyter's stop button sends it, is POSIX")
def test_stop_button_while_the_notebook_trains_ends_in_one_line(tmp_path):
    psutil = pytest.importorskip("psutil")
    data, out = tmp_path / "t.txt", tmp_path / "run"
    data.write_text(learnable_text(n_words=10_000), encoding="utf-8")
    cmd = [sys.executable, "-m", "papermill", "--log-level", "ERROR", str(NOTEBOOKS / "train.ipynb"),
           str(tmp_path / "out.ipynb"), "-p", "data_path", str(data), "-p", "out_dir", str(out),
           "-p", "epochs", "20", "-p", "checkpoint_every", "1000"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (run_folder.read_status(out) or {}).get("step", 0) >= 1000 or proc.poll() is not None,
                 timeout=300)
        kernels = [c for c in psutil.Process(proc.pid).children(recursive=True)
                   if any("ipykernel" in part for part in c.cmdline())]
        assert len(kernels) == 1 and proc.poll() is None
        kernels[0].send_signal(signal.SIGINT)  # what the stop button does
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    kept = checkpoint.load(out / "last.npz")[1]["step"]
    errors = [o for c in json.loads((tmp_path / "out.ipynb").read_text(encoding="utf-8"))["cells"]
              for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "TrainingInterrupted"
    assert errors[0]["traceback"] == [f"TrainingInterrupted: interrupted at update {kept:,} of 34,700, the last "
                                      f"checkpoint: {out} keeps it; run the notebook again with the same "
                                      f"settings to continue from there"]
    assert "rnn.py" not in err and run_folder.read_status(out)["step"] == kept


def test_status_step_follows_the_checkpoints_while_running(text_file, tmp_path, monkeypatch):
    out = tmp_path / "run"
    seen = []
    real = run_folder.write_status

    def recording(folder, state, **facts):
        status = real(folder, state, **facts)
        if folder == out:
            seen.append((state, status["step"], checkpoint.load(out / "last.npz")[1]["step"]
                         if (out / "last.npz").exists() else None))
        return status
    monkeypatch.setattr(run_folder, "write_status", recording)
    run_lib(text_file, out, max_steps=130)
    assert seen == [("running", 0, None), ("running", 50, 50), ("running", 100, 100), ("running", 130, 130),
                    ("finished", 130, 130)]


# ----------------------------------------------------------- 6: a full disk while the figure is written

def test_full_disk_at_the_figure_names_it_and_leaves_nothing_derived(text_file, tmp_path, monkeypatch):
    out = tmp_path / "run"

    def disk_full(self, f, **kwargs):
        f.write(b"half a figure")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", disk_full)
    with pytest.raises(atomic.WriteError) as info:
        run_lib(text_file, out, max_steps=120)
    assert str(info.value) == f"could not write {out / 'loss.png'}: {os.strerror(errno.ENOSPC)}"
    assert info.value._render_traceback_() == [f"WriteError: {info.value}"]  # one line in Jupyter too
    assert derived_left(out) == [] and not list(out.glob(".*.tmp"))
    assert run_folder.read_status(out)["state"] == "running"  # unfinished, and nothing says otherwise
    monkeypatch.undo()
    result = run_lib(text_file, out, max_steps=120)
    assert result["action"] == "continue" and result["trained_from"] == 120
    assert derived_left(out) == ["history.csv", "loss.pdf", "loss.png", "samples.jsonl", "summary.json"]
    assert (out / "loss.png").read_bytes().startswith(b"\x89PNG")


# ----------------------------------------------------------- 13: a diverging run

def test_diverging_run_is_one_line_and_leaves_a_folder_the_next_run_takes(text_file, tmp_path):
    out = tmp_path / "run"
    with np.errstate(all="ignore"), pytest.raises(runner.TrainingDiverged) as info:
        run_lib(text_file, out, eta=1e6, max_steps=200)
    message = str(info.value)
    assert message.startswith("training diverged: loss became") and "\n" not in message
    assert f"{out} was left empty (a new run folder)" in message
    assert info.value._render_traceback_() == [f"TrainingDiverged: {message}"]
    assert run_folder.folder_state(out)[0] == "new"
    result = run_lib(text_file, out, max_steps=60)  # another eta, same folder: trains afresh
    assert result["action"] == "new" and run_folder.folder_state(out)[0] == "finished"


def test_diverging_after_a_checkpoint_keeps_it_and_says_so(english_text_file, tmp_path):
    out = tmp_path / "run"
    # The setting of test_train's divergence test: it diverges after a few checkpoints.
    with np.errstate(all="ignore"), pytest.raises(runner.TrainingDiverged) as info:
        run_lib(english_text_file, out, m=5, eta=70.0, seq_length=10, seed=1, epochs=20, checkpoint_every=2,
                log_every=1)
    kept = checkpoint.load(out / "last.npz")[1]["step"]
    assert f"{out} is left interrupted at update {kept:,}" in str(info.value)
    assert run_folder.folder_state(out)[0] == "interrupted" and run_folder.read_status(out)["step"] == kept


# ----------------------------------------------------------- 15 and 19: the next notebook

@pytest.fixture(scope="module")
def run_under_the_root(tmp_path_factory):
    """A finished 130-update run in runs/<unique>/ under the repository root (removed afterwards)."""
    text = tmp_path_factory.mktemp("root_text") / "toy.txt"
    text.write_text(learnable_text(), encoding="utf-8")
    folder = paths.RUNS_DIR / f"test_hostile_{uuid.uuid4().hex[:8]}"
    runner.execute(plan(text, folder, max_steps=130), progress=None)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_run_folder_relative_to_the_root_works_from_notebooks(run_under_the_root, tmp_path):
    relative = run_under_the_root.relative_to(paths.REPO_ROOT).as_posix()  # runs/test_hostile_...
    result = ok(papermill(NOTEBOOKS / "text_evolution.ipynb", tmp_path / "e.ipynb", NOTEBOOKS,
                          ("run_dir", relative), ("every", 50), ("up_to", 100), ("out_dir", tmp_path)))
    assert run_files.read_evolution(tmp_path)["run_dir"] == str(run_under_the_root)
    ok(papermill(NOTEBOOKS / "best_model.ipynb", tmp_path / "b.ipynb", NOTEBOOKS, ("run_dir", relative),
                 ("passage_len", 50), ("sweep_len", 20), ("out_dir", tmp_path)))
    assert run_files.read_passage(tmp_path)["run_dir"] == str(run_under_the_root)
    missing = papermill(NOTEBOOKS / "text_evolution.ipynb", tmp_path / "m.ipynb", NOTEBOOKS,
                        ("run_dir", "runs/no_such_run"), ("out_dir", tmp_path / "m"))
    assert missing.returncode != 0
    assert (f"run_dir runs/no_such_run does not exist (looked in {NOTEBOOKS / 'runs' / 'no_such_run'} and "
            f"in {paths.RUNS_DIR / 'no_such_run'})") in missing.stderr
    assert result.returncode == 0


def test_text_evolution_says_when_the_run_is_shorter_than_up_to(run_under_the_root, tmp_path):
    """A run shorter than up_to ends its evolution with the final model's sample, where the shortfall line
    says the samples stop; with every beyond the run, that is the one sample after step 0 (issue 25, case 18)."""
    ok(papermill(NOTEBOOKS / "text_evolution.ipynb", tmp_path / "e.ipynb", tmp_path,
                 ("run_dir", run_under_the_root), ("every", 50), ("up_to", 1000), ("out_dir", tmp_path)))
    printed = cell_text(tmp_path / "e.ipynb")
    assert ("4 samples from" in printed and "the run is shorter than asked: 130 updates, up_to=1,000, so the samples "
            "stop at step 130, the final model's") in printed
    final = run_files.read_samples(run_under_the_root)[-1]
    assert [s["step"] for s in run_files.read_evolution(tmp_path)["samples"]] == [0, 50, 100, 130]
    assert f"step 130, smooth loss {final['smooth_loss']:.2f}, the final model\n{final['text']}\n" in printed
    ok(papermill(NOTEBOOKS / "text_evolution.ipynb", tmp_path / "d.ipynb", tmp_path,
                 ("run_dir", run_under_the_root), ("out_dir", tmp_path / "d")))        # every 10,000: the defaults
    printed = cell_text(tmp_path / "d.ipynb")
    assert "2 samples from" in printed and "stop at step 130, the final model's" in printed
    assert [s["step"] for s in run_files.read_evolution(tmp_path / "d")["samples"]] == [0, 130]
    ok(papermill(NOTEBOOKS / "text_evolution.ipynb", tmp_path / "f.ipynb", tmp_path,
                 ("run_dir", run_under_the_root), ("every", 50), ("up_to", 100), ("out_dir", tmp_path / "f")))
    assert "shorter than asked" not in cell_text(tmp_path / "f.ipynb")


def cell_text(executed):
    cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    return "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                   for c in cells for o in c.get("outputs", []))


# ----------------------------------------------------------- 16, 17, 18: what the run's files say

def test_loss_plot_title_says_what_was_run(text_file, tmp_path):
    short = run_lib(text_file, tmp_path / "short", max_steps=130)["summary"]
    title = loss_plot.loss_figure(run_files.read_history(tmp_path / "short"), short).axes[0].get_title()
    fraction = 130 / short["steps_per_epoch"]
    assert title.endswith(f", 130 updates ({fraction:.2g} of an epoch)") and "10 epochs" not in title
    whole = run_lib(text_file, tmp_path / "whole", epochs=1)["summary"]
    assert loss_plot.loss_figure(run_files.read_history(tmp_path / "whole"), whole).axes[0].get_title().endswith(
        ", 1 epoch")


@pytest.mark.parametrize("steps", [130, 150])
def test_the_samples_end_with_one_from_the_final_model(text_file, tmp_path, steps):
    result = run_lib(text_file, tmp_path / "run", max_steps=steps)
    samples = run_files.read_samples(tmp_path / "run")
    assert [s["step"] for s in samples] == [0, 50, 100, steps]
    assert samples[-1]["smooth_loss"] == result["summary"]["final_smooth_loss"]
    # The trajectory is train()'s own, and the checkpoint keeps no closing sample, so that a
    # longer run continued from it equals one never stopped.
    direct = train.train(text_file.read_text(encoding="utf-8"), tmp_path / "direct", max_steps=steps,
                         data_path=str(text_file), **TOY)
    assert [s["step"] for s in direct["samples"]] == [0, 50, 100]
    assert direct["best_smooth_loss"] == result["summary"]["best_smooth_loss"]
    assert checkpoint.load(tmp_path / "run" / "last.npz")[1]["samples"] == direct["samples"]
    longer = run_lib(text_file, tmp_path / "run", max_steps=230)
    never_stopped = run_lib(text_file, tmp_path / "once", max_steps=230)
    assert run_files.read_samples(tmp_path / "run") == run_files.read_samples(tmp_path / "once")
    assert [s["step"] for s in run_files.read_samples(tmp_path / "once")] == [0, 50, 100, 150, 200, 230]
    assert longer["summary"]["best_smooth_loss"] == never_stopped["summary"]["best_smooth_loss"]


def test_result_line_says_its_time_is_cpu_and_the_progress_wall_clock(text_file, tmp_path):
    line = runner.report_line(run_lib(text_file, tmp_path / "run", max_steps=60))
    assert re.search(r"\d+ us of CPU time per update \(the progress shows wall-clock time\)", line)
    read_end, write_end = os.pipe()
    lines = progress.LineProgress(100, "run", every=0.0, stream_fd=write_end)
    lines({"kind": "log", "step": 10, "smooth_loss": 50.0})
    os.close(write_end)
    assert " wall-clock us/update, " in os.read(read_end, 4096).decode()
    os.close(read_end)


def test_show_run_folder_takes_an_absolute_path_as_given(tmp_path):
    assert run_folder.locate(str(tmp_path), paths.RUNS_DIR) == tmp_path.resolve()
    assert run_folder.locate(None, paths.RUNS_DIR / "train_10ep") == paths.RUNS_DIR / "train_10ep"


# =========================================================== issue 25

def folder_bytes(folder):
    """{relative path: bytes} of every file under folder, the lock's files but the holder's name included."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock-holder.json"}


# ----------------------------------------------------------- 1: a run removes only what runs wrote

def test_a_first_run_refuses_a_folder_holding_files_no_run_wrote(text_file, tmp_path):
    userdir = tmp_path / "userdir"
    userdir.mkdir()
    (userdir / "thesis.txt").write_text("x\n", encoding="utf-8")
    refused = papermill(NOTEBOOKS / "train.ipynb", tmp_path / "t.ipynb", tmp_path,
                        *params(text_file, userdir, max_steps=60).items())
    assert refused.returncode != 0
    assert (f"RunFolderError: out_dir {userdir} already holds files that no training run wrote (thesis.txt): a "
            f"run needs a folder of its own; choose a new or empty out_dir (nothing was touched)") in refused.stderr
    assert sorted(p.name for p in userdir.iterdir()) == ["thesis.txt"]  # not even a lock file
    # `-p out_dir .` in a clone (a copy of its top, here): refused before anything is written there.
    clone = tmp_path / "clone"
    shutil.copytree(paths.REPO_ROOT, clone, ignore=lambda folder, names: [
        n for n in names if n not in ("pyproject.toml", "README.md", "Makefile", "lib", "rnn.py", "__init__.py")])
    before = folder_bytes(clone)
    with pytest.raises(run_folder.RunFolderError, match=r"already holds files that no training run wrote \(Makefile, "
                                                        r"README.md, lib and 1 more\)"):
        run_lib(text_file, clone, max_steps=60)
    assert folder_bytes(clone) == before and not (clone / ".lock").exists()


def test_retrain_and_a_fresh_start_keep_what_the_user_put_beside_the_run(text_file, tmp_path, monkeypatch):
    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=60, seed=1)
    (out / "thesis.txt").write_text("x\n", encoding="utf-8")
    (out / ".draft.tmp").write_text("w\n", encoding="utf-8")  # named like a killed write, but of no run file
    (out / "notes").mkdir()
    (out / "notes" / "a.txt").write_text("y\n", encoding="utf-8")
    result = run_lib(text_file, out, max_steps=80, seed=2, retrain=True)
    assert result["action"] == "retrained" and run_files.read_summary(out)["seed"] == 2
    assert (out / "thesis.txt").read_text(encoding="utf-8") == "x\n"
    assert (out / ".draft.tmp").read_text(encoding="utf-8") == "w\n"
    assert (out / "notes" / "a.txt").read_text(encoding="utf-8") == "y\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # and nothing of them left beside it
    # An interrupted retrain of other settings before its first checkpoint, then trained afresh in place.
    interrupt_at(monkeypatch, 20)
    with pytest.raises(runner.TrainingInterrupted):
        run_lib(text_file, out, max_steps=80, seed=2, eta=0.05, retrain=True)
    monkeypatch.undo()
    fresh = run_lib(text_file, tmp_path / "other", max_steps=60)
    (tmp_path / "other" / "thesis.txt").write_text("z\n", encoding="utf-8")
    interrupt_at(monkeypatch, 20)
    with pytest.raises(runner.TrainingInterrupted):
        run_lib(text_file, tmp_path / "other", max_steps=200, checkpoint_every=500)
    monkeypatch.undo()
    again = run_lib(text_file, tmp_path / "other", max_steps=200, eta=0.05, retrain=True)
    assert fresh["action"] == "new" and again["action"] == "retrained"
    assert (tmp_path / "other" / "thesis.txt").read_text(encoding="utf-8") == "z\n"
    assert (out / "thesis.txt").is_file() and run_files.read_summary(out)["seed"] == 2


# ----------------------------------------------------------- 3: a hand-edited summary.json

def test_a_hand_edited_summary_is_refused_in_one_line(text_file, tmp_path):
    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=120)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    best = checkpoint.load(out / "best.npz")[1]
    assert (summary["best_step"], summary["best_smooth_loss"]) == (best["step"], best["smooth_loss"])
    summary.update(best_step=7, best_smooth_loss=1.234)
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    before = folder_bytes(out)
    shown = papermill(NOTEBOOKS / "train.ipynb", tmp_path / "t.ipynb", tmp_path,
                      *params(text_file, out, max_steps=120).items())
    assert shown.returncode != 0
    assert (f"RunFolderError: out_dir {out} holds a finished run whose summary.json disagrees with its checkpoints "
            f"(best step 7 there, {best['step']:,} in best.npz; best smooth loss 1.234 there, "
            f"{best['smooth_loss']!r} in best.npz): it was edited or damaged; pass retrain=True to train it "
            f"afresh, or choose another out_dir (nothing was touched)") in shown.stderr
    assert "reused the finished run" not in (tmp_path / "t.ipynb").read_text(encoding="utf-8")
    assert folder_bytes(out) == before


# ----------------------------------------------------------- 8: Windows' held-open files

def refuse_replace(monkeypatch, times, only=None):
    """Make os.replace raise PermissionError, as Windows does onto a file another program holds open,
    the first `times` times (for good with times=None), for every target or those named `only`."""
    real = os.replace
    refused = []

    def replace(source, target):
        if (only is None or os.path.basename(target) == only) and (times is None or len(refused) < times):
            refused.append(target)
            raise PermissionError(errno.EACCES, "Access is denied")
        real(source, target)
    monkeypatch.setattr(atomic.os, "replace", replace)
    monkeypatch.setattr(atomic, "RETRY_PAUSES", (0.01, 0.02))
    return refused


def test_a_file_held_open_for_a_moment_is_replaced_once_it_is_let_go(tmp_path, monkeypatch):
    target = tmp_path / "status.json"
    target.write_text("old\n", encoding="utf-8")
    refused = refuse_replace(monkeypatch, times=2)
    atomic.atomic_write(target, lambda f: f.write("new\n"), binary=False)
    assert len(refused) == 2 and target.read_text(encoding="utf-8") == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]


def test_a_file_held_open_for_good_is_named_in_one_line_and_kept(text_file, tmp_path, monkeypatch):
    target = tmp_path / "report.pdf"
    target.write_text("old\n", encoding="utf-8")
    refuse_replace(monkeypatch, times=None)
    with pytest.raises(atomic.WriteError) as info:
        atomic.atomic_write(target, lambda f: f.write("new\n"), binary=False)
    assert str(info.value) == (f"could not replace {target}: Access is denied, still after 0.03 s of trying "
                               f"(another program may hold it open: a viewer, a spreadsheet, an antivirus or a "
                               f"sync tool; close it and try again)")
    assert target.read_text(encoding="utf-8") == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "report.pdf"]
    # history.csv held by a spreadsheet as a run finishes: one line, and the run stays unfinished.
    out = tmp_path / "run"
    monkeypatch.undo()
    refuse_replace(monkeypatch, times=None, only="history.csv")
    with pytest.raises(atomic.WriteError, match=f"^could not replace {re.escape(str(out / 'history.csv'))}: "):
        run_lib(text_file, out, max_steps=60)
    assert derived_left(out) == [] and run_folder.read_status(out)["state"] == "running"
    monkeypatch.undo()
    assert run_lib(text_file, out, max_steps=60)["action"] == "continue"


def test_report_build_names_a_report_held_open_and_keeps_it(tmp_path, monkeypatch, capsys):
    from conftest import load_script

    command = load_script(paths.REPO_ROOT / "report" / "build.py", "report_build_held_open")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("previous report", encoding="utf-8")

    def fake_convert(notebook, formats, build_dir):
        built = [build_dir / f"report.{fmt}" for fmt in formats]
        for path in built:
            path.write_text("new report", encoding="utf-8")
        return built
    monkeypatch.setattr(command.nbexec, "execute", lambda *args, **kwargs: None)
    monkeypatch.setattr(command, "convert", fake_convert)
    refuse_replace(monkeypatch, times=None, only="report.html")
    assert command.main(["--runs", "a", "--gradcheck", "g", "--out-dir", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: could not replace {out / 'report.html'}: Access is denied, still after ")
    assert (out / "report.html").read_text(encoding="utf-8") == "previous report"
    assert "install_tex.sh" not in command.pdf_tools_hint("win32") and "MiKTeX" in command.pdf_tools_hint("win32")


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")
def test_the_sampling_command_writes_a_console_in_its_own_encoding(tmp_path):
    import pty

    text = "café au lait, déjà vu; " * 40
    train.train(text, tmp_path / "run", m=5, max_steps=40, log_every=10, synth_every=100, synth_len=10,
                checkpoint_every=40)
    cmd = [sys.executable, "-m", "lib.sample", str(tmp_path / "run"), "--length", "400", "--prime", "café"]
    env = dict(os.environ, PYTHONIOENCODING="ascii")  # a console that is not UTF-8
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(cmd, stdout=follower, stderr=subprocess.PIPE, env=env, timeout=120, cwd=tmp_path)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # (Linux: the terminal's other end is closed)
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0, done.stderr
    assert shown.startswith(b"caf?") and "é".encode() not in shown  # no UTF-8 bytes the console would garble
    piped = subprocess.run(cmd, capture_output=True, env=env, timeout=120, cwd=tmp_path)
    assert piped.returncode == 0 and piped.stdout.decode("utf-8").startswith("café")  # a pipe gets UTF-8


# ----------------------------------------------------------- 9: CHARRNN_HOME

def installed_copy(tmp_path):
    """lib outside any clone, as pip install . or Colab has it (PYTHONPATH comes before the editable install)."""
    site = tmp_path / "site"
    shutil.copytree(paths.REPO_ROOT / "lib", site / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    return site


HOME_SCRIPT = """
import json, sys
import lib
from lib.training import runner
assert lib.__file__.startswith(sys.argv[1]), lib.__file__
for given in json.loads(sys.argv[2]):
    try:
        runner.execute(runner.plan(**given), progress=None)
    except Exception as err:
        print(f"{type(err).__name__}: {err}")
"""


def home_attempts(text_file):
    """A run of the default corpus (prepared in the home), then one of text_file into the home's runs/."""
    return json.dumps([dict(TOY, max_steps=20), dict(TOY, data_path=str(text_file), max_steps=20)])


def test_charrnn_home_naming_a_file_is_named_in_one_line(text_file, tmp_path):
    site = installed_copy(tmp_path)
    home = tmp_path / "home.txt"
    home.write_text("not a folder", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", HOME_SCRIPT, str(site), home_attempts(text_file)], cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=str(site), CHARRNN_HOME=str(home)),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    line = (f"HomeError: CHARRNN_HOME={home} names a file, not a folder: set CHARRNN_HOME to a folder you can "
            f"write, where the project keeps its data/ and runs/")
    assert done.stdout.splitlines() == [line, line]
    assert home.read_text(encoding="utf-8") == "not a folder"


READ_ONLY_SH = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'


def read_only(folder, *cmd, **options):
    """Run cmd with folder mounted read-only for it alone: a bind mount in a mount namespace of its own
    (unshare -m), so that the folder refuses every write with EROFS even to root, as a read-only disk does."""
    return subprocess.run(["unshare", "-m", "sh", "-c", READ_ONLY_SH, str(folder), *map(str, cmd)],
                          capture_output=True, text=True, timeout=600, **options)


def _read_only_mounts_work():
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        probe = read_only(folder, "sh", "-c", 'echo x > "$0/probe"', folder)
        return probe.returncode != 0 and "Read-only file system" in probe.stderr


needs_read_only_mounts = pytest.mark.skipif(not _read_only_mounts_work(),
                                            reason="needs unshare -m and mount (Linux, root) for a read-only folder")


@needs_read_only_mounts
def test_charrnn_home_that_cannot_be_written_is_named_in_one_line(text_file, tmp_path):
    site = installed_copy(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    done = read_only(home, sys.executable, "-c", HOME_SCRIPT, site, home_attempts(text_file), cwd=tmp_path,
                     env=dict(os.environ, PYTHONPATH=str(site), CHARRNN_HOME=str(home)))
    assert done.returncode == 0, done.stderr
    line = (f"HomeError: CHARRNN_HOME={home} cannot be written (Read-only file system): set CHARRNN_HOME to a "
            f"folder you can write, where the project keeps its data/ and runs/")
    assert done.stdout.splitlines() == [line, line]


# ----------------------------------------------------------- 12: nothing left to train

def test_a_run_killed_as_its_summary_appeared_says_nothing_was_trained(text_file, tmp_path):
    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=120)
    # Killed just as summary.json appeared: its end files are there, status.json still says running.
    status = run_folder.read_status(out)
    run_folder.write_status(out, "running", **{k: v for k, v in status.items() if k not in ("state", "updated_at")})
    result = run_lib(text_file, out, max_steps=120)
    assert result["action"] == "continue" and result["state"]["timing"]["steps_this_session"] == 0
    line = runner.report_line(result)
    assert line.splitlines()[0] == (f"finished {out}: its last checkpoint was already at update 120, the end, so "
                                    f"nothing was trained now; its summary, history, samples and loss figure "
                                    f"were written")
    assert "%" not in line and "us of CPU time" not in line
    assert run_folder.folder_state(out)[0] == "finished"
    read_end, write_end = os.pipe()
    progress.LineProgress(120, "run", start_step=120, stream_fd=write_end)
    os.close(write_end)
    assert os.read(read_end, 4096).decode() == "run: 120/120 updates, none left to do\n"
    os.close(read_end)


# ----------------------------------------------------------- 13: a finished run on a read-only folder

@needs_read_only_mounts
def test_a_finished_run_on_a_read_only_folder_is_shown_again(text_file, tmp_path):
    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=60)
    before = folder_bytes(out)
    papermill_cmd = [sys.executable, "-m", "papermill", "--log-level", "ERROR"]
    shown = read_only(out, *papermill_cmd, NOTEBOOKS / "train.ipynb", tmp_path / "t.ipynb",
                      *[a for k, v in params(text_file, out, max_steps=60).items() for a in ("-p", k, v)],
                      cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert (f"reused the finished run in {out} (a folder this process may only read): nothing trained (60 updates"
            in cell_text(tmp_path / "t.ipynb"))
    other = read_only(out, sys.executable, "-c", "import json, sys\nfrom lib.training import runner\n"
                      "runner.execute(runner.plan(**json.loads(sys.argv[1])), progress=None)",
                      json.dumps(params(text_file, out, max_steps=80)), cwd=tmp_path)
    assert other.returncode != 0 and other.stderr.strip().splitlines()[-1] == (
        f"lib.training.run_folder.FolderNotWritable: out_dir {out} cannot be used: Read-only file system")
    best = [NOTEBOOKS / "best_model.ipynb", "-p", "run_dir", out, "-p", "passage_len", 10, "-p", "sweep_len", 10]
    failed = read_only(out, *papermill_cmd, best[0], tmp_path / "b.ipynb", *best[1:], cwd=tmp_path)
    assert failed.returncode != 0
    assert (f"WriteError: could not write {out / 'passage.json'}: Read-only file system; set the notebook's out_dir "
            f"to a folder that can be written, for passage.json") in failed.stderr
    elsewhere = tmp_path / "elsewhere"
    ok(read_only(out, *papermill_cmd, best[0], tmp_path / "c.ipynb", *best[1:], "-p", "out_dir", elsewhere,
                 cwd=tmp_path))
    assert run_files.read_passage(elsewhere)["run_dir"] == str(out)
    assert folder_bytes(out) == before


# ----------------------------------------------------------- 16: an unreadable checkpoint

def test_an_unreadable_checkpoint_is_discarded_saying_so(text_file, tmp_path, monkeypatch):
    out = tmp_path / "run"
    interrupt_at(monkeypatch, 170)
    with pytest.raises(runner.TrainingInterrupted):
        run_lib(text_file, out, max_steps=300)
    monkeypatch.undo()
    last = out / "last.npz"
    last.write_bytes(last.read_bytes()[:1000])  # truncated
    result = run_lib(text_file, out, max_steps=300)
    assert (result["action"], result["trained_from"]) == ("new", 0)
    said = runner.report_line(result).splitlines()[0]
    assert said.startswith(f"discarded {last}, which cannot be continued from: corrupt or truncated")
    assert said.endswith(" (it was the checkpoint of update 150); training starts again from update 0")
    assert checkpoint.load(last)[1]["step"] == 300
    assert "discarded" not in runner.report_line(run_lib(text_file, tmp_path / "clean", max_steps=60))


# ----------------------------------------------------------- 21: held-out text in a short run

def test_held_out_measurements_are_announced_as_the_run_makes_them(text_file, tmp_path, monkeypatch):
    from lib.text import sidecar

    held = tmp_path / "heldout.txt"
    held.write_text(learnable_text(n_words=400, seed=5), encoding="utf-8")
    monkeypatch.setattr(sidecar, "heldout_path", lambda data_path: held)
    monkeypatch.setattr(sidecar, "read_info", lambda data_path: {"heldout": {"play": "comedies/toy"}})
    short = plan(text_file, tmp_path / "short", max_steps=120)  # eval_every 10,000, the course's
    described = runner.describe(short)
    assert ("its bits per character for the best model at the end (eval_every=10,000 is more than the 120 "
            "updates planned)") in described and "every 10,000 updates" not in described
    summary = runner.execute(short, progress=None)["summary"]
    assert all(np.isnan(run_files.read_history(tmp_path / "short")["val_bpc"]))  # never measured on the way
    assert summary["heldout"]["best_bpc"] > 0                                     # and once at the end
    assert "its bits per character every 40 updates" in runner.describe(
        plan(text_file, tmp_path / "long", max_steps=120, eval_every=40))


# ----------------------------------------------------------- 22: the interrupt line's numbers

def test_the_interrupt_line_keeps_its_numbers_ahead_of_any_folder(text_file, tmp_path, monkeypatch):
    out = tmp_path / ("a_folder_with_a_long_name_" * 6) / "run"
    interrupt_at(monkeypatch, 170)
    with pytest.raises(runner.TrainingInterrupted) as info:
        run_lib(text_file, out, max_steps=300)
    shown = info.value._render_traceback_()[0]
    assert shown.startswith("TrainingInterrupted: interrupted at update 170 of 300, 20 updates past the last ")
    # The longest numbers the course makes (100,000 of 347,000) still end before column 80.
    assert len("TrainingInterrupted: interrupted at update 100,000 of 347,000") < 80


# ----------------------------------------------------------- issue 25, case 2: make's runs use the project's settings

def test_a_stage_passes_every_parameter_so_an_edited_cell_never_reaches_makes_runs(text_file, tmp_path):
    """JupyterLab autosaves an edited parameters cell into the notebook; make's stage passes every
    parameter at the project's default (lib.checks.NOTEBOOK_DEFAULTS), so the edit trains nothing."""
    edited = json.loads((paths.REPO_ROOT / "notebooks" / "train.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in edited["cells"] if "parameters" in c["metadata"].get("tags", []))
    source = "".join(cell["source"])
    for old, new in (("max_steps: Optional[int] = None", "max_steps: Optional[int] = 30"),
                     ("m: Optional[int] = None", "m: Optional[int] = 7"),
                     ('protocol: str = "2021"', 'protocol: str = "2026"')):
        assert old in source
        source = source.replace(old, new)
    cell["source"] = source
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "train.ipynb").write_text(json.dumps(edited), encoding="utf-8")
    out = tmp_path / "runs" / "run"
    done = subprocess.run([sys.executable, "-m", "lib.jupyter.stage", "--failures-dir", str(tmp_path / "runs" / ".failed"),
                           "--all-parameters", str(tmp_path / "nb" / "train.ipynb"), str(out / "train.ipynb"),
                           "-p", "data_path", str(text_file), "-p", "out_dir", str(out), "-p", "epochs", "1",
                           "-p", "synth_every", "100000"],
                          cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = run_files.read_summary(out)
    assert summary["protocol"] == "2021" and summary["m"] == 100
    assert summary["steps"] == summary["steps_per_epoch"] > 30
    # Without --all-parameters the cell's values would have trained: the test would see them.
    done = subprocess.run([sys.executable, "-m", "lib.jupyter.stage", "--failures-dir", str(tmp_path / "runs" / ".failed"),
                           str(tmp_path / "nb" / "train.ipynb"), str(tmp_path / "runs" / "cell" / "train.ipynb"),
                           "-p", "data_path", str(text_file), "-p", "out_dir", str(tmp_path / "runs" / "cell"),
                           "-p", "epochs", "1"], cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    cell_run = run_files.read_summary(tmp_path / "runs" / "cell")
    assert (cell_run["protocol"], cell_run["m"], cell_run["steps"]) == ("2026", 7, 30)


def test_all_parameters_refuses_a_notebook_it_has_no_defaults_for(tmp_path):
    done = subprocess.run([sys.executable, "-m", "lib.jupyter.stage", "--all-parameters", str(tmp_path / "mine.ipynb"),
                           str(tmp_path / "out.ipynb")], cwd=paths.REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "mine.ipynb is none of the project's notebooks" in done.stderr


# ----------------------------------------------------------- issue 25, cases 10, 11, 17

def test_a_model_too_large_for_memory_is_refused_before_anything_is_allocated(text_file, tmp_path):
    result = papermill(paths.REPO_ROOT / "notebooks" / "train.ipynb", tmp_path / "x.ipynb", tmp_path,
                       ("data_path", text_file), ("out_dir", tmp_path / "out"), ("m", 100000))
    assert result.returncode != 0
    line = re.search(r"ParameterError: (m=100000: the model.*)", result.stderr).group(1)
    assert re.fullmatch(r"m=100000: the model, its gradients and the optimizer's state need about [0-9.,]+ GB of "
                        r"memory, more than the [0-9.,]+ GB available here: choose a smaller m", line), line
    assert not (tmp_path / "out").exists()
    run_lib(text_file, tmp_path / "out", m=7, max_steps=20)  # the folder takes the next run


def test_a_run_failing_before_its_first_checkpoint_leaves_no_claim(text_file, tmp_path, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(train, "train", out_of_memory)
    with pytest.raises(MemoryError):
        run_lib(text_file, tmp_path / "out", m=3000, max_steps=20)
    assert not (tmp_path / "out" / run_folder.STATUS).exists()
    monkeypatch.undo()
    assert run_lib(text_file, tmp_path / "out", m=7, max_steps=20)["action"] == "new"  # not refused for m=3000


def test_a_divergence_from_huge_initial_weights_names_sigma(text_file, tmp_path):
    with pytest.raises(runner.TrainingDiverged) as caught:
        run_lib(text_file, tmp_path / "out", sigma=1000.0, max_steps=50)
    assert "train again with smaller initial weights (sigma=1000; the 2021 handout's is 0.01), or a smaller eta" \
        in str(caught.value)
    with pytest.raises(runner.TrainingDiverged, match=r"train again with a smaller eta \(eta=1e\+06\)"):
        run_lib(text_file, tmp_path / "other", eta=1e6, max_steps=50)


def test_a_text_the_model_learns_perfectly_reports_no_negative_loss(tmp_path):
    text = tmp_path / "newlines.txt"
    text.write_text("\n" * 500, encoding="utf-8")
    result = run_lib(text, tmp_path / "out", max_steps=100)
    line = runner.report_line(result)
    assert "best smooth loss 0.000" in line and "final 0.000" in line and "-0.000" not in line
