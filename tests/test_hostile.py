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
    """Make the progress callback raise KeyboardInterrupt at the first log event at or past step,
    as Jupyter's stop button raises it in the kernel in the middle of training."""
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
    assert message == (f"interrupted: {out} keeps its last checkpoint, update 150 of 300; run the notebook "
                       f"again with the same settings to continue from there")
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
    assert errors[0]["traceback"] == [f"TrainingInterrupted: interrupted: {out} keeps its last checkpoint, "
                                      f"update {kept:,} of 34,700; run the notebook again with the same "
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
