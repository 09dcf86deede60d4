"""Issue 30, items 12 and 13: a stop writes a checkpoint where it stops; run folders named after their length.

12: Ctrl-C or Jupyter's stop button lands wherever the interpreter is, in the middle of an update; the run
stops after that update, writes its checkpoint there and continues from it bitwise. Where it cannot (a
second interrupt, a kill) the line says how many updates will be done again.
13: a run cut short by max_steps is named by its updates, settings by short tags (lib.training.settings
NAME_TAGS), the README and the notebook give the same examples, and folders named the earlier way are
still found and continued.
"""

import json
import re
import signal
import subprocess
import sys
import time

import pytest
from toy_corpus import learnable_text
from toy_run import params, run_lib

from lib import checks, paths, rnn, rnn_fast
from lib.training import checkpoint, folder_lock, run_files, run_folder, runner, train

RUN_LENGTH = 300  # updates of the toy run (TOY: a checkpoint every 50, a log row every 10, a sample every 50)


def entry_names(folder):
    """The names of the files and folders under folder, the lock's aside."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name not in folder_lock.LOCK_FILES)


def assert_same_run(folder, whole):
    """The run in folder is bitwise the run in whole: weights, optimizer, samples, history and best model."""
    a, meta_a = checkpoint.load(folder / "last.npz")
    b, meta_b = checkpoint.load(whole / "last.npz")
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key
    for key in ("step", "epoch", "chunk", "smooth_loss", "best_step", "best_smooth_loss", "samples",
                "sample_rng_state", "epoch_ends", "optimizer_t"):
        assert meta_a[key] == meta_b[key], key
    best_a, best_b = checkpoint.load(folder / "best.npz")[0], checkpoint.load(whole / "best.npz")[0]
    assert all(best_a[k].tobytes() == best_b[k].tobytes() for k in best_a)
    assert run_files.read_history(folder) == run_files.read_history(whole)
    assert run_files.read_samples(folder) == run_files.read_samples(whole)
    summary_a, summary_b = run_files.read_summary(folder), run_files.read_summary(whole)
    for key in ("steps", "best_step", "best_smooth_loss", "final_smooth_loss"):
        assert summary_a[key] == summary_b[key], key


@pytest.fixture(scope="module")
def whole(text_file, tmp_path_factory):
    """The toy run of RUN_LENGTH updates, never interrupted (the held-out tail evaluated every 40)."""
    out = tmp_path_factory.mktemp("whole") / "run"
    run_lib(text_file, out, max_steps=RUN_LENGTH, val_fraction=0.1, eval_every=40)
    return out


def interrupt_on_call(monkeypatch, owner, name, call, before=False):
    """SIGINT, as Ctrl-C and the stop button send it, from inside the call-th call of owner.name (after
    the function has done its work, or before it when before=True): an interrupt in the middle of an update."""
    real, calls = getattr(owner, name), []

    def interrupted(*args, **kwargs):
        calls.append(None)
        if before and len(calls) == call:
            signal.raise_signal(signal.SIGINT)
        result = real(*args, **kwargs)
        if not before and len(calls) == call:
            signal.raise_signal(signal.SIGINT)
        return result
    monkeypatch.setattr(owner, name, interrupted)
    return calls


# Where an interrupt lands, and the update the run stops after: (owner, function, its call, before, update).
LANDINGS = {
    # The 137th update's gradients are computed, its weights not yet changed.
    "in the gradients": (rnn_fast, "loss_and_grads", 137, False, 137),
    # The optimizer has changed the weights and its memory; the step count and smooth loss are not yet moved.
    "in the optimizer's update": (rnn_fast, "adagrad_step", 137, False, 137),
    # Drawing the sample at step 150 (the sample generator half-way); the 151st update follows.
    "in a sample": (rnn, "synthesize", 4, False, 151),
    # The held-out tail's evaluation after update 120.
    "in the held-out evaluation": (train, "bits_per_char", 3, False, 120),
    # Writing the checkpoint of update 150: it is written whole, and is the stop's.
    "in a checkpoint's write": (checkpoint, "save_state", 3, True, 150),
}


@pytest.mark.parametrize("where", LANDINGS)
def test_a_stop_anywhere_in_an_update_writes_its_checkpoint_after_it_and_continues_bitwise(
        where, text_file, tmp_path, whole, monkeypatch):
    owner, name, call, before, stopped_at = LANDINGS[where]
    out = tmp_path / "run"
    calls = interrupt_on_call(monkeypatch, owner, name, call, before)
    with pytest.raises(runner.TrainingInterrupted) as info:
        run_lib(text_file, out, max_steps=RUN_LENGTH, val_fraction=0.1, eval_every=40)
    assert len(calls) >= call
    assert str(info.value) == (f"interrupted at update {stopped_at} of {RUN_LENGTH}, the last checkpoint: {out} "
                               f"keeps it; run the notebook again with the same settings to continue from there")
    assert checkpoint.load(out / "last.npz")[1]["step"] == stopped_at == run_folder.read_status(out)["step"]
    assert run_folder.folder_state(out)[0] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C is an interrupt again
    monkeypatch.undo()
    result = run_lib(text_file, out, max_steps=RUN_LENGTH, val_fraction=0.1, eval_every=40)
    assert (result["action"], result["trained_from"]) == ("continue", stopped_at)
    assert_same_run(out, whole)
    assert entry_names(out) == entry_names(whole)  # nothing else in the folder, nothing missing


def test_a_stop_in_adams_update_of_a_random_batch_continues_bitwise(text_file, tmp_path, monkeypatch):
    setting = dict(protocol="2026", order="random", batch_size=2, max_steps=200)
    run_lib(text_file, tmp_path / "whole", **setting)
    interrupt_on_call(monkeypatch, rnn_fast, "adam_step", 77)
    with pytest.raises(runner.TrainingInterrupted, match="^interrupted at update 77 of 200, the last checkpoint: "):
        run_lib(text_file, tmp_path / "run", **setting)
    monkeypatch.undo()
    result = run_lib(text_file, tmp_path / "run", **setting)
    assert (result["action"], result["trained_from"]) == ("continue", 77)
    assert_same_run(tmp_path / "run", tmp_path / "whole")


def test_a_stop_in_the_progress_display_stops_after_that_update(text_file, tmp_path, whole, monkeypatch):
    out = tmp_path / "run"
    make = runner.make_progress

    def progress_interrupted(*args, **kwargs):
        shown = make(*args, **kwargs)

        def on_event(event):
            if event["kind"] == "log" and event["step"] == 170:
                signal.raise_signal(signal.SIGINT)
            shown(event)
        on_event.close, on_event.seconds = shown.close, 0.0
        return on_event
    monkeypatch.setattr(runner, "make_progress", progress_interrupted)
    with pytest.raises(runner.TrainingInterrupted, match=f"^interrupted at update 170 of {RUN_LENGTH}, the last "):
        run_lib(text_file, out, max_steps=RUN_LENGTH, val_fraction=0.1, eval_every=40)
    assert checkpoint.load(out / "last.npz")[1]["step"] == 170
    monkeypatch.undo()
    run_lib(text_file, out, max_steps=RUN_LENGTH, val_fraction=0.1, eval_every=40)
    assert_same_run(out, whole)


def test_a_second_interrupt_stops_at_once_and_says_how_many_updates_will_be_done_again(
        text_file, tmp_path, whole, monkeypatch):
    out = tmp_path / "run"
    real, calls = rnn_fast.adagrad_step, []

    def interrupted_twice(*args, **kwargs):
        calls.append(None)
        result = real(*args, **kwargs)
        if len(calls) == 138:  # update 138 half done: the first waits for its end, the second does not
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
        return result
    monkeypatch.setattr(rnn_fast, "adagrad_step", interrupted_twice)
    with pytest.raises(runner.TrainingInterrupted) as info:
        run_lib(text_file, out, max_steps=RUN_LENGTH, val_fraction=0.1, eval_every=40)
    assert str(info.value) == (f"interrupted at update 137 of {RUN_LENGTH}, 37 updates past the last checkpoint: "
                               f"{out} keeps update 100; run the notebook again with the same settings to "
                               f"continue from there (those 37 updates will be done again)")
    assert checkpoint.load(out / "last.npz")[1]["step"] == 100 == run_folder.read_status(out)["step"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.undo()
    result = run_lib(text_file, out, max_steps=RUN_LENGTH, val_fraction=0.1, eval_every=40)
    assert (result["action"], result["trained_from"]) == ("continue", 100)
    assert_same_run(out, whole)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT, as Jupyter's stop button sends it, is POSIX")
def test_the_stop_button_in_a_kernel_writes_the_checkpoint_of_the_update_it_stopped_after(tmp_path):
    """The stop button, as papermill's kernel gets it: a run with no checkpoint yet (checkpoint_every beyond its
    end) keeps the updates done, where it used to keep nothing."""
    psutil = pytest.importorskip("psutil")
    data, out = tmp_path / "t.txt", tmp_path / "run"
    data.write_text(learnable_text(n_words=10_000), encoding="utf-8")  # 1,735 updates an epoch
    cmd = [sys.executable, "-m", "papermill", "--log-level", "ERROR", str(paths.REPO_ROOT / "notebooks" /
           "train.ipynb"), str(tmp_path / "out.ipynb"), "-p", "data_path", str(data), "-p", "out_dir", str(out),
           "-p", "epochs", "20", "-p", "checkpoint_every", "1000000"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # status.json says how far the run has gone REACHED_EVERY_SECONDS after it started
        wait_for(lambda: "reached" in (run_folder.read_status(out) or {}) or proc.poll() is not None)
        reached = run_folder.read_status(out)["reached"]
        kernels = [c for c in psutil.Process(proc.pid).children(recursive=True)
                   if any("ipykernel" in part for part in c.cmdline())]
        assert len(kernels) == 1 and proc.poll() is None
        kernels[0].send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    kept = checkpoint.load(out / "last.npz")[1]["step"]
    assert 0 < reached <= kept < 34_700 and run_folder.read_status(out)["step"] == kept
    errors = [o for c in json.loads((tmp_path / "out.ipynb").read_text(encoding="utf-8"))["cells"]
              for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert [e["traceback"] for e in errors] == [[
        f"TrainingInterrupted: interrupted at update {kept:,} of 34,700, the last checkpoint: {out} keeps it; run "
        f"the notebook again with the same settings to continue from there"]]


def wait_for(predicate, timeout=300):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


# A worker that trains the toy run in a process of its own and stalls, to be killed, once its status.json
# says it has gone past its last checkpoint (REACHED_EVERY_SECONDS 0: it says so at every log row).
KILLED_WORKER = """
import json, sys, time
from lib.training import run_folder, runner
runner.REACHED_EVERY_SECONDS = 0.0
write_status = run_folder.write_status
def write_then_stall(folder, state, **facts):
    status = write_status(folder, state, **facts)
    if facts.get("reached", 0) >= int(sys.argv[2]):
        print(facts["reached"], flush=True)
        time.sleep(600)
    return status
run_folder.write_status = write_then_stall
runner.execute(runner.plan(**json.loads(sys.argv[1])), progress=None)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_killed_run_continues_bitwise_and_says_how_many_updates_are_done_again(text_file, tmp_path, whole,
                                                                                    capsys):
    out = tmp_path / "run"
    parameters = params(text_file, out, max_steps=RUN_LENGTH, val_fraction=0.1, eval_every=40)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WORKER, json.dumps(parameters), "180"],
                            cwd=paths.REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "180", proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    status = run_folder.read_status(out)
    assert (status["step"], status["reached"]) == (150, 180)
    assert checkpoint.load(out / "last.npz")[1]["step"] == 150
    capsys.readouterr()
    result = run_lib(text_file, out, max_steps=RUN_LENGTH, val_fraction=0.1, eval_every=40)
    said = capsys.readouterr().out.splitlines()
    assert said == ["continuing from the last checkpoint, update 150: the run there had reached update 180 "
                    "(at least) and was stopped with no checkpoint written (killed, or its kernel died), so 30 "
                    "updates will be done again"]
    assert (result["action"], result["trained_from"]) == ("continue", 150)
    assert result["took_over"]["pid"] == proc.pid
    assert_same_run(out, whole)
    assert "reached" not in run_folder.read_status(out)  # finished: nothing more to redo


# ----------------------------------------------------------- 13: a run folder is named after the run it holds

def default_name(data_path=None, epoch_steps=None, **given):
    """The default folder of the train notebook's parameters given (the others its defaults)."""
    checked = checks.check_all(runner.PARAMETERS, dict(runner.DEFAULTS, **given))
    return runner.default_out_dir(runner.resolve(checked)[0], data_path, epoch_steps)


def toy_plan(text_file, **extra):
    """plan() of the toy run with out_dir left None: the folder takes its default name."""
    given = params(text_file, None, **extra)
    del given["out_dir"]
    return runner.plan(**given)


def test_a_run_that_max_steps_ends_early_is_named_by_its_updates(text_file, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "RUNS_DIR", tmp_path / "runs")
    epoch_steps = toy_plan(text_file)["steps_per_epoch"]
    short = toy_plan(text_file, max_steps=30)
    assert f"30 updates planned; run folder {tmp_path / 'runs' / 'train_30steps_toy_m5_log10_synth50_synthlen20'}" \
        in runner.describe(short)
    # max_steps that does not end the run before its epochs: the run is its epochs, and named so.
    for max_steps in (10 * epoch_steps, 10 * epoch_steps + 1, None):
        assert toy_plan(text_file, max_steps=max_steps)["out"].name == \
            "train_10ep_toy_m5_log10_synth50_synthlen20"
    assert toy_plan(text_file, max_steps=10 * epoch_steps - 1)["out"].name.startswith(
        f"train_{10 * epoch_steps - 1}steps_toy")
    assert not (tmp_path / "runs").exists()  # planning names a folder, and makes none


def test_setting_names_with_underscores_are_short_in_a_folder_name():
    # The example: train_10ep_2026_chunks10_val_chunk9_batch_size8_eval_every1000_max_steps3000,
    # 0.068 of an epoch of the default corpus.
    assert default_name(epoch_steps=44_000, protocol="2026", chunks=10, val_chunk=9, batch_size=8,
                        eval_every=1000, max_steps=3000).name == \
        "train_3000steps_2026_chunks10_valchunk9_batch8_eval1000"
    assert default_name(seq_length=50, log_every=10, synth_every=500, synth_len=50, val_fraction=0.1).name == \
        "train_10ep_seq50_log10_synth500_synthlen50_val0.1"
    tagged = set(runner.table.NAME_TAGS.values())
    assert all("_" not in runner.table.NAME_TAGS.get(name, name) for name in runner.table.RUN_SETTINGS)
    assert len(tagged) == len(runner.table.NAME_TAGS)  # no two settings read the same


def documented_names(text):
    """The run folders a text gives as examples: each `runs/train_...` between backticks."""
    return re.findall(r"`(runs/train_[0-9][^`/ ]*)", text)


# Every example the README and train.ipynb give, with the settings it is the folder of.
EXAMPLES = {
    "runs/train_10ep": {},
    "runs/train_10ep_m50_eta0.05": {"m": 50, "eta": 0.05},
    "runs/train_3000steps_2026_chunks10_valchunk9_batch8_eval1000": {
        "protocol": "2026", "chunks": 10, "val_chunk": 9, "batch_size": 8, "eval_every": 1000, "max_steps": 3000},
}
EARLIER_EXAMPLES = {"runs/train_10ep_2026_max_steps3000": {"protocol": "2026", "max_steps": 3000}}


def test_the_readme_and_the_notebook_give_the_names_runs_get():
    readme = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    notebook = json.loads((paths.REPO_ROOT / "notebooks" / "train.ipynb").read_text(encoding="utf-8"))
    cells = "".join("".join(cell["source"]) for cell in notebook["cells"])
    given = documented_names(readme) + documented_names(cells)
    assert "runs/train_3000steps_2026_chunks10_valchunk9_batch8_eval1000" in documented_names(readme)
    assert documented_names(cells) == ["runs/train_10ep_m50_eta0.05"]  # the README's first example
    assert "README" in cells
    for name in given:
        assert name in EXAMPLES or name in EARLIER_EXAMPLES, f"{name}: an example that no test checks"
    for name, settings in EXAMPLES.items():
        assert default_name(epoch_steps=44_000, **settings) == paths.RUNS_DIR / name.removeprefix("runs/")
    for name, settings in EARLIER_EXAMPLES.items():
        resolved = runner.resolve(checks.check_all(runner.PARAMETERS, dict(runner.DEFAULTS, **settings)))[0]
        assert runner.earlier_out_dir(resolved, None) == paths.RUNS_DIR / name.removeprefix("runs/")
        assert runner.default_out_dir(resolved, None, 44_000) != runner.earlier_out_dir(resolved, None)


def test_a_run_folder_named_the_earlier_way_is_found_and_continued(text_file, tmp_path, whole, monkeypatch):
    runs = tmp_path / "runs"
    monkeypatch.setattr(paths, "RUNS_DIR", runs)
    earlier = runs / f"train_10ep_toy_m5_log_every10_synth_every50_synth_len20_val_fraction0.1_eval_every40" \
                     f"_max_steps{RUN_LENGTH}"
    setting = dict(max_steps=RUN_LENGTH, val_fraction=0.1, eval_every=40)
    interrupt_on_call(monkeypatch, rnn_fast, "adagrad_step", 137)
    with pytest.raises(runner.TrainingInterrupted):
        run_lib(text_file, earlier, **setting)  # trained by an earlier version, under the name it gave
    monkeypatch.undo()
    monkeypatch.setattr(paths, "RUNS_DIR", runs)
    planned = toy_plan(text_file, **setting)
    assert planned["out"] == earlier
    assert (f"run folder {earlier}\n(the name an earlier version gave this run: it is used where it is; runs of "
            f"these settings are now named train_{RUN_LENGTH}steps_toy_m5_log10_synth50_synthlen20_val0.1_eval40)"
            ) in runner.describe(planned)
    result = runner.execute(planned, progress=None)
    assert (result["action"], result["trained_from"]) == ("continue", 137)
    assert_same_run(earlier, whole)
    assert [p.name for p in runs.iterdir()] == [earlier.name]  # no second folder under the new name
    again = toy_plan(text_file, **setting)
    assert runner.execute(again, progress=None)["action"] == "reuse"
