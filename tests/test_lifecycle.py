"""The run folder's lifecycle: reuse, continue, refuse, retrain, races, kills, bad parameters."""

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import reference
from nbrun import ok, papermill, stage_lines
from toy_corpus import learnable_text
from toy_run import TOY, params, run_lib

from lib import checks, paths
from lib.text import corpus, sidecar
from lib.training import checkpoint, folder_lock, progress, run_files, run_folder, runner

NOTEBOOKS = paths.REPO_ROOT / "notebooks"
WORKER = Path(__file__).with_name("_run_worker.py")
# SIGKILL, the kill that lets nothing clean up, is POSIX: Windows has no such signal.
needs_sigkill = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def folder_bytes(folder):
    """{relative path: sha256} of every file under folder (the lock's contents excluded)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file() and p.name not in folder_lock.LOCK_FILES}


def same_arrays(path_a, path_b):
    a, meta_a = checkpoint.load(path_a)
    b, meta_b = checkpoint.load(path_b)
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key].tobytes() == b[key].tobytes(), key
    for key in ("step", "epoch", "chunk", "smooth_loss", "best_step", "samples", "sample_rng_state"):
        assert meta_a[key] == meta_b[key], key


def worker(parameters, *pauses):
    return subprocess.Popen([sys.executable, str(WORKER), json.dumps(parameters), *map(str, pauses)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


# ----------------------------------------------------------- running again

def test_same_settings_finished_is_reused_without_training(text_file, tmp_path):
    out = tmp_path / "run"
    first = run_lib(text_file, out, max_steps=120)
    assert first["action"] == "new" and run_folder.folder_state(out)[0] == "finished"
    before = folder_bytes(out)
    again = run_lib(text_file, out, max_steps=120)
    assert again["action"] == "reuse" and "state" not in again
    assert folder_bytes(out) == before
    assert "reused the finished run" in runner.report_line(again)


def test_more_updates_continue_a_finished_run_bitwise(text_file, tmp_path):
    run_lib(text_file, tmp_path / "short", max_steps=100)
    longer = run_lib(text_file, tmp_path / "short", max_steps=230)
    assert longer["action"] == "continue" and longer["trained_from"] == 100
    run_lib(text_file, tmp_path / "whole", max_steps=230)
    same_arrays(tmp_path / "short" / "last.npz", tmp_path / "whole" / "last.npz")
    assert run_files.read_history(tmp_path / "short") == run_files.read_history(tmp_path / "whole")
    assert run_files.read_samples(tmp_path / "short") == run_files.read_samples(tmp_path / "whole")


def test_other_settings_are_refused_naming_each_difference(text_file, tmp_path):
    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=60)
    before = folder_bytes(out)
    with pytest.raises(run_folder.RunFolderError) as info:
        run_lib(text_file, out, max_steps=60, eta=0.05, seed=3)
    message = str(info.value)
    assert "eta=0.1 there, 0.05 now" in message and "seed=0 there, 3 now" in message
    assert "retrain=True" in message and "\n" not in message
    assert folder_bytes(out) == before
    other_text = tmp_path / "other.txt"
    other_text.write_text(learnable_text(seed=9), encoding="utf-8")
    with pytest.raises(run_folder.RunFolderError, match="text: .*toy.txt .* there, .*other.txt .* now"):
        runner.execute(runner.plan(**params(other_text, out, max_steps=60)), progress=None)
    with pytest.raises(run_folder.RunFolderError, match="already 60 updates long, more than the 30"):
        run_lib(text_file, out, max_steps=30)
    assert folder_bytes(out) == before


def test_retrain_replaces_only_when_finished(text_file, tmp_path):
    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=60, seed=1)
    result = run_lib(text_file, out, max_steps=80, seed=2, retrain=True)
    assert result["action"] == "retrained"
    assert run_files.read_summary(out)["seed"] == 2 and run_files.read_summary(out)["steps"] == 80
    assert not run_folder.aside_folder(out).exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    run_lib(text_file, tmp_path / "fresh", max_steps=80, seed=2)
    same_arrays(out / "last.npz", tmp_path / "fresh" / "last.npz")


# ----------------------------------------------------------- the retrain swap, killed at any instant

class Killed(BaseException):
    """Stands for a SIGKILL: nothing in lib catches it, so the folders stay as the kill left them."""


def entry_names(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name not in folder_lock.LOCK_FILES)


def read_as(reader, text_file, out, capsys):
    """What the next command says after a kill: train.ipynb or make's stage again (the same retrain),
    the sampling command, or text_evolution/best_model (run_folder.require_finished)."""
    capsys.readouterr()
    if reader == "train":
        result = run_lib(text_file, out, max_steps=80, seed=2, retrain=True)
        assert result["action"] == "reuse"  # the killed retrain's run is in: nothing is trained again
        return runner.report_line(result).splitlines()[0]
    if reader == "sample":
        from lib.sample import command

        assert command.run([str(out), "--length", "20", "--out", str(out.parent.parent / "sample.txt")]) == 0
        return capsys.readouterr().err.splitlines()[0]
    assert run_folder.require_finished(out)["settings"]["seed"] == 2
    return capsys.readouterr().out


def test_a_retrain_swap_killed_at_any_instant_is_finished_by_the_next_command(text_file, tmp_path, monkeypatch,
                                                                                capsys):
    instant = 0
    while True:
        out = tmp_path / str(instant) / "run"
        run_lib(text_file, out, max_steps=60, seed=1)
        old_entries, new_run, steps = entry_names(out), {}, []

        def killable(real):
            def step(path, *rest):
                if not steps:  # the swap's first step: the new run is finished beside the old one
                    new_run.update(files=folder_bytes(run_folder.aside_folder(out)),
                                   entries=entry_names(run_folder.aside_folder(out)))
                # As Windows would refuse: no folder holding an open lock is renamed or removed.
                assert not (Path(path).is_dir() and folder_lock.lock_is_held(path)), path
                if len(steps) == instant:
                    raise Killed
                steps.append(path)
                real(path, *rest)
            return step

        monkeypatch.setattr(run_folder, "_rename", killable(run_folder._rename))
        monkeypatch.setattr(run_folder, "_remove", killable(run_folder._remove))
        try:
            run_lib(text_file, out, max_steps=80, seed=2, retrain=True)
        except Killed:
            killed = True
        else:
            killed = False
        monkeypatch.undo()
        if not killed:
            break
        line = read_as(("train", "sample", "notebook")[instant % 3], text_file, out, capsys)
        assert "the new run is whole there now" in line and "\n" not in line.strip(), (instant, line)
        assert folder_bytes(out) == new_run["files"], instant
        assert [p.name for p in out.parent.iterdir()] == ["run"], instant  # no leftover beside it
        assert entry_names(out) == new_run["entries"], instant            # nor inside it
        assert run_folder.settle(out) is None                                   # and nothing more to do
        instant += 1
    # Every instant was tried: before each rename of the old run's entries, of the folder they are
    # gathered in, of the new run's entries, and before each of the two removals.
    assert instant == len(old_entries) + 1 + len(new_run["entries"]) + 2


@needs_sigkill
@pytest.mark.parametrize("instant, reader", [(2, "sample"), (8, "text_evolution.ipynb"), (12, "best_model.ipynb"),
                                             (15, "train.ipynb")])
def test_a_retrain_killed_by_sigkill_while_swapping_is_finished_by_the_next_command(text_file, tmp_path,
                                                                                    instant, reader):
    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=60, seed=1)
    proc = worker(params(text_file, out, max_steps=80, seed=2, retrain=True), 0, 0, instant)
    assert proc.stdout.readline().strip() == "swapping"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if reader == "sample":
        done = subprocess.run([sys.executable, "-m", "lib.sample", str(out), "--length", "30"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert done.returncode == 0 and len(done.stdout) == 30, done.stderr
        said = done.stderr
    elif reader == "train.ipynb":  # run again as it was, as make's stage does
        ok(papermill(NOTEBOOKS / reader, tmp_path / reader, tmp_path,
                     *params(text_file, out, max_steps=80, seed=2, retrain=True).items()))
        said = (tmp_path / reader).read_text(encoding="utf-8")
        assert "reused the finished run" in said  # the killed retrain's run: nothing trained again
    else:
        extra = [("passage_len", 10), ("sweep_len", 10)] if reader == "best_model.ipynb" else [("every", 20)]
        ok(papermill(NOTEBOOKS / reader, tmp_path / reader, tmp_path, ("run_dir", out), *extra))
        said = (tmp_path / reader).read_text(encoding="utf-8")
    assert f"{out}: a retrain had finished but was stopped while swapping its new run in" in said
    assert run_folder.require_finished(out)["settings"]["seed"] == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert not (out / run_folder.REPLACING).exists() and not (out / run_folder.REPLACED).exists()


@needs_sigkill
def test_a_killed_retrain_keeps_the_old_run_and_the_next_retrain_continues_its_build(text_file, tmp_path):
    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=60, seed=1)
    old = folder_bytes(out)
    aside = run_folder.aside_folder(out)
    proc = worker(params(text_file, out, max_steps=300, seed=2, retrain=True), 30)
    wait_for(lambda: (aside / "last.npz").exists())  # the worker sleeps after its first checkpoint
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert run_folder.settle(out) is None  # nothing to finish: the build stays for the next retrain
    assert folder_bytes(out) == old and run_folder.require_finished(out)["settings"]["seed"] == 1
    result = run_lib(text_file, out, max_steps=300, seed=2, retrain=True)
    assert result["action"] == "retrained" and result["trained_from"] == 50
    run_lib(text_file, tmp_path / "fresh", max_steps=300, seed=2)
    same_arrays(out / "last.npz", tmp_path / "fresh" / "last.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "run"]


def test_a_retrain_killed_before_it_trained_leaves_the_old_run_and_goes(text_file, tmp_path, capsys):
    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=60, seed=1)
    old = folder_bytes(out)
    aside = run_folder.aside_folder(out)
    aside.mkdir()
    (aside / folder_lock.LOCK).write_text("")  # claimed, then killed before its status.json
    run_folder.require_finished(out)
    said = capsys.readouterr().out
    assert said.startswith(f"{out}: the old run is whole there; removed what a retrain killed before it")
    assert folder_bytes(out) == old and not aside.exists()


def test_the_run_an_earlier_versions_killed_swap_hid_is_found(text_file, tmp_path):
    """Before: killed between its two renames, a swap left .run.old-<pid> and a finished .run.retrain,
    and no run folder at all."""
    run_lib(text_file, tmp_path / "old", max_steps=60, seed=1)
    run_lib(text_file, tmp_path / "new", max_steps=80, seed=2)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    out = tmp_path / "run"
    (tmp_path / "old").rename(tmp_path / f".run.old-{gone.pid}")
    (tmp_path / "new").rename(run_folder.aside_folder(out))
    done = subprocess.run([sys.executable, "-m", "lib.sample", str(out), "--length", "10"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "the new run is whole there now" in done.stderr and f".run.old-{gone.pid}" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert run_folder.require_finished(out)["settings"]["seed"] == 2


def test_default_out_dir_names_the_protocol_and_what_differs_from_it():
    def name(data_path=None, **given):
        checked = checks.check_all(runner.PARAMETERS, dict(runner.DEFAULTS, **given))
        return runner.default_out_dir(runner.resolve(checked)[0], data_path)

    assert name() == paths.RUNS_DIR / "train_10ep"
    assert name(eta=0.05, m=50) == paths.RUNS_DIR / "train_10ep_m50_eta0.05"
    assert name(eta=0.1, m=100, clip=5.0) == paths.RUNS_DIR / "train_10ep"  # the protocol's own values
    assert name("data/goblet_book.txt", epochs=5, seed=2) == paths.RUNS_DIR / "train_5ep_goblet_book_seed2"
    assert name(protocol="2026") == paths.RUNS_DIR / "train_10ep_2026"
    assert name(protocol=2026, clip=5.0, fast=False) == paths.RUNS_DIR / "train_10ep_2026_clip5_plain"
    assert name(clip=False, optimizer="adam") == paths.RUNS_DIR / "train_10ep_optimizeradam_clipnone"
    assert name(protocol="2026", beta1=0.8) == paths.RUNS_DIR / "train_10ep_2026_beta10.8"


def test_train_notebook_twice_gives_the_same_outputs(text_file, tmp_path):
    common = [("data_path", text_file), ("out_dir", tmp_path / "run"), ("m", 5), ("max_steps", 200),
              ("log_every", 10), ("synth_every", 50), ("synth_len", 30)]
    ok(papermill(NOTEBOOKS / "train.ipynb", tmp_path / "a.ipynb", tmp_path, *common))
    tick = time.perf_counter()
    ok(papermill(NOTEBOOKS / "train.ipynb", tmp_path / "b.ipynb", tmp_path, *common))
    print(f"reused run: {time.perf_counter() - tick:.1f} s")

    def outputs(name):
        cells = json.loads((tmp_path / name).read_text())["cells"]
        return [[o.get("text") or o.get("data", {}).get("text/plain") for o in c.get("outputs", [])]
                for c in cells if c["cell_type"] == "code" and c.get("id") != "setup"]

    first, second = outputs("a.ipynb"), outputs("b.ipynb")
    # code cells but the set-up cell: parameters, papermill's injected parameters, plan, training, samples, figure
    assert "reused the finished run" in "".join(second[3][0])
    assert first[4:] == second[4:] and first[4][0] and first[5][0]  # samples and figure, as before
    assert "".join(first[3][0]).splitlines()[-1] == "".join(second[3][0]).splitlines()[-1]


# ----------------------------------------------------------- kills and races

@needs_sigkill
def test_kill_during_continuation_then_every_notebook(text_file, tmp_path):
    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=100)
    proc = worker(params(text_file, out, max_steps=400), 30)
    wait_for(lambda: (out / "last.npz").exists() and checkpoint.load(out / "last.npz")[1]["step"] >= 150)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state, status = run_folder.folder_state(out)
    assert state == "interrupted"
    assert not any((out / name).exists() for name in run_folder.DERIVED)
    for notebook, extra in (("text_evolution.ipynb", []), ("best_model.ipynb", [("passage_len", 10)])):
        result = papermill(NOTEBOOKS / notebook, tmp_path / notebook, tmp_path, ("run_dir", out), *extra)
        assert result.returncode != 0
        assert "is an unfinished run, interrupted at step" in result.stderr
        assert "run notebooks/train.ipynb again with the same settings" in result.stderr
    assert not (out / "evolution.json").exists() and not (out / "passage.json").exists()
    result = run_lib(text_file, out, max_steps=400)
    assert result["action"] == "continue" and result["took_over"]["pid"] == proc.pid
    run_lib(text_file, tmp_path / "whole", max_steps=400)
    same_arrays(out / "last.npz", tmp_path / "whole" / "last.npz")
    assert run_files.read_history(out) == run_files.read_history(tmp_path / "whole")


@needs_sigkill
def test_kill_during_checkpoint_write_leaves_no_temp_file_after_next_claim(text_file, tmp_path):
    out = tmp_path / "run"
    proc = worker(params(text_file, out, max_steps=200), 0, 30)
    assert proc.stdout.readline().strip() == "writing"
    temps = list(out.glob(".*.tmp"))
    assert temps, "the stalled write should have left its temporary file"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert all(t.exists() for t in temps)
    result = run_lib(text_file, out, max_steps=200)
    assert result["action"] == "new"  # killed before its first checkpoint: nothing to continue
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize("attempt", range(6))
def test_two_processes_racing_for_one_folder(text_file, tmp_path, attempt):
    out = tmp_path / "run"
    # Each checkpoint (every 50 updates) is followed by a 1 s pause: the winner holds the folder
    # for 6 s, far longer than the two processes' start-up times can differ.
    procs = [worker(params(text_file, out, max_steps=300), 1.0) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 3], results
    refused = next(r[0] for p, r in zip(procs, results) if p.returncode == 3)
    winner = next(p for p in procs if p.returncode == 0)
    assert f"is being trained by process {winner.pid}" in refused
    assert run_files.read_summary(out)["steps"] == 300 and run_folder.folder_state(out)[0] == "finished"
    run_lib(text_file, tmp_path / "alone", max_steps=300)
    same_arrays(out / "last.npz", tmp_path / "alone" / "last.npz")


def test_racing_notebooks(text_file, tmp_path):
    # About 5 s of training: longer than two kernels' start-up times can differ.
    common = [("data_path", text_file), ("out_dir", tmp_path / "run"), ("m", 20), ("epochs", 100), ("max_steps", 40000),
              ("log_every", 100), ("synth_every", 10000), ("checkpoint_every", 5000)]
    cmd = [sys.executable, "-m", "papermill", "--log-level", "ERROR", str(NOTEBOOKS / "train.ipynb")]
    args = [a for name, value in common for a in ("-p", name, str(value))]
    procs = [subprocess.Popen(cmd + [str(tmp_path / f"{i}.ipynb")] + args, cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert sorted(p.returncode for p in procs) == [0, 1], results
    refused = next(r[1] for p, r in zip(procs, results) if p.returncode == 1)
    assert "is being trained by process" in refused
    assert run_files.read_summary(tmp_path / "run")["steps"] == 40000


def test_a_process_that_only_looks_at_the_lock_is_not_taken_for_a_trainer(text_file, tmp_path):
    """filelock has no shared lock: lock_is_held takes the lock for an instant, naming nobody."""
    import threading

    from filelock import FileLock

    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=60)
    run_folder.write_status(out, "running", **{k: v for k, v in run_folder.read_status(out).items()
                                           if k not in ("state", "updated_at")})
    for look in (lambda: run_folder.folder_state(out)[0] == "interrupted",
                 lambda: run_folder.claim(out).release() is None):
        looker = FileLock(out / folder_lock.LOCK, thread_local=False)
        looker.acquire()                                     # another reader, caught in its instant
        threading.Timer(0.3, looker.release).start()
        assert look()


@pytest.mark.parametrize("no_flock", [NotImplementedError("FileSystem does not appear to support flock"),
                                      OSError(errno.ENOSYS, "Function not implemented")],
                         ids=["filelock 3", "filelock 4"])
def test_a_file_system_without_flock_is_refused_in_one_line(tmp_path, monkeypatch, no_flock):
    """What each filelock raises where flock is missing (a network share, say): one line naming out_dir, not a
    traceback, and no lock that a killed process would leave held."""
    class NoFlock:
        def __init__(self, path, **options):
            self.path = path

        def acquire(self, timeout):
            raise no_flock

    monkeypatch.setattr(folder_lock, "FileLock", NoFlock)
    out = tmp_path / "run"
    with pytest.raises(run_folder.RunFolderError) as refused:
        run_folder.claim(out)
    assert str(refused.value) == f"out_dir {out} cannot be used: {folder_lock.NO_FLOCK}"
    assert list(out.iterdir()) == []


def test_unfinished_run_is_not_reported(text_file, tmp_path):
    from lib.report import report_inputs

    out = tmp_path / "run"
    run_lib(text_file, out, max_steps=60)
    run_folder.write_status(out, "running", **{k: v for k, v in run_folder.read_status(out).items()
                                           if k not in ("state", "updated_at")})
    with pytest.raises(run_files.ArtifactError, match="interrupted"):
        report_inputs.load_report_inputs([out], tmp_path)


# ----------------------------------------------------------- settings checked first

def test_every_notebook_parameter_is_checked(tmp_path):
    import papermill

    for notebook, spec in checks.NOTEBOOKS.items():
        declared = papermill.inspect_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"))
        assert sorted(declared) == sorted(spec), notebook
        defaults = {name: eval(p["default"]) for name, p in declared.items()}
        checks.check_all(spec, defaults)  # the defaults themselves pass
        assert defaults == checks.NOTEBOOK_DEFAULTS[notebook], notebook  # what make's stages pass
        if notebook == "train":
            assert defaults == runner.DEFAULTS
        for name in spec:
            for bad in (-5, "x", [], 1.5):
                kind = spec[name] if isinstance(spec[name], str) else spec[name][0]
                try:
                    checks.check(name, bad, kind)
                except checks.ParameterError as err:
                    assert str(err).startswith(f"{name} must be ") and "\n" not in str(err)


@pytest.mark.parametrize("notebook, setting, message", [
    ("train.ipynb", ("seq_length", 0), "seq_length must be a positive integer (or None: the protocol's), got 0"),
    ("train.ipynb", ("max_steps", -5), "max_steps must be a positive integer (or None), got -5"),
    ("train.ipynb", ("eta", "fast"), "eta must be a positive finite number (or None: the protocol's), got 'fast'"),
    ("gradient_check.ipynb", ("seq_length", 0), "seq_length must be a positive integer, got 0"),
    ("gradient_check.ipynb", ("h", 0), "h must be a positive finite number, got 0"),
    ("text_evolution.ipynb", ("every", 0), "every must be a positive integer, got 0"),
    ("best_model.ipynb", ("temperatures", -1), "temperatures must be a finite number of at least 0.001 or a "
                                               "non-empty list of them, got -1"),
    ("train.ipynb", ("order", "shuffle"), "order must be one of 'sequential', 'chunks', 'random', got 'shuffle'"),
    ("train.ipynb", ("batch_size", 0), "batch_size must be a positive integer (or None: the protocol's), got 0"),
    ("best_model.ipynb", ("top_ps", 1.5), "top_ps must be a number in (0, 1] or a non-empty list of them, got 1.5"),
])
def test_bad_parameter_is_one_line_before_any_work(notebook, setting, message, text_file, tmp_path):
    tick = time.perf_counter()
    own = checks.NOTEBOOKS[notebook.removesuffix(".ipynb")]
    places = [place for place in (("data_path", text_file), ("out_dir", tmp_path / "out"),
                                  ("run_dir", tmp_path / "none")) if place[0] in own]
    result = papermill(NOTEBOOKS / notebook, tmp_path / "x.ipynb", tmp_path, setting, *places)
    assert result.returncode != 0 and f"ParameterError: {message}" in result.stderr
    assert not (tmp_path / "out").exists()
    assert time.perf_counter() - tick < 60


@pytest.mark.parametrize("notebook, given, line", [
    ("train.ipynb", ("epoch", 2), "train.ipynb has no parameter epoch (did you mean epochs?)"),
    ("gradient_check.ipynb", ("m_value", 3), "gradient_check.ipynb has no parameter m_value (did you mean m_values?)"),
    ("text_evolution.ipynb", ("evry", 5), "text_evolution.ipynb has no parameter evry (did you mean every?)"),
    ("best_model.ipynb", ("temperature", 0.5),
     "best_model.ipynb has no parameter temperature (did you mean temperatures?)"),
    ("inside.ipynb", ("text_pth", "other.txt"), "inside.ipynb has no parameter text_pth (did you mean text_path?)"),
])
def test_an_unknown_parameter_is_refused_naming_the_nearest(notebook, given, line, tmp_path):
    """papermill only warns of a name the notebook lacks, and the notebook would run on its defaults: each
    notebook refuses it, as make's stage shows it, in one line, before any work."""
    cmd = [sys.executable, "-m", "lib.jupyter.stage", "--failures-dir", str(tmp_path / ".failed"),
           str(NOTEBOOKS / notebook), str(tmp_path / "out" / notebook), "-p", given[0], str(given[1]),
           "-p", "out_dir", str(tmp_path / "out")]
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    *before, last = stage_lines(result.stderr)
    assert result.returncode == 1 and last.startswith("error: ") and last.endswith(f"ParameterError: {line}"), \
        result.stderr
    assert before == [f"Passed unknown parameter: {given[0]}"], result.stderr  # papermill's own warning, first
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("notebook, yaml, message", [
    ("train.ipynb", "eta: 1e-1", "eta must be a positive finite number (or None: the protocol's), got '1e-1': "
                                 "text, not a number, as YAML "
                                 "(papermill's -y) reads 1e-1; write 0.1"),
    ("text_evolution.ipynb", "every: 1e3", "every must be a positive integer, got '1e3': text, not a number, as YAML "
                                           "(papermill's -y) reads 1e3; write 1000"),
])
def test_a_number_yaml_read_as_text_is_named_so(notebook, yaml, message, tmp_path):
    result = papermill(NOTEBOOKS / notebook, tmp_path / "x.ipynb", tmp_path, ("out_dir", tmp_path / "out"), yaml=yaml)
    assert result.returncode != 0 and f"ParameterError: {message}\n" in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "out").exists()


def test_the_names_papermill_injects_itself_are_not_refused(tmp_path):
    result = subprocess.run([sys.executable, "-m", "papermill", "--log-level", "ERROR", "--inject-paths",
                             str(NOTEBOOKS / "text_evolution.ipynb"), str(tmp_path / "x.ipynb"), "-p", "every", "0"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "ParameterError: every must be a positive integer, got 0" in result.stderr


def test_scalars_are_taken_for_lists(text_file, tmp_path):
    run_lib(text_file, tmp_path / "run", max_steps=60)
    ok(papermill(NOTEBOOKS / "best_model.ipynb", tmp_path / "b.ipynb", tmp_path, ("run_dir", tmp_path / "run"),
                 ("temperatures", 0.5), ("passage_len", 20), ("sweep_len", 10)))
    assert [e["temperature"] for e in run_files.read_passage(tmp_path / "run")["sweep"]] == [0.5]
    ok(papermill(NOTEBOOKS / "gradient_check.ipynb", tmp_path / "g.ipynb", tmp_path, ("data_path", text_file),
                 ("out_dir", tmp_path / "gc"), yaml="m_values: 3"))
    assert {loss: list(by_m) for loss, by_m in run_files.read_gradcheck(tmp_path / "gc")[0].items()} == \
        {"sum": ["3"], "mean": ["3"]}
    plain = run_files.read_json(tmp_path / "gc" / "speed.json")["plain"]
    assert sorted(plain) == ["mean", "sum"] and all(t["plain_over_fast"] == t["plain"] / t["fast"] > 0
                                                    for t in plain.values())


def test_unwritable_out_dir_is_named_before_training(text_file, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(run_folder.RunFolderError, match=f"out_dir {blocker / 'run'} cannot be used"):
        run_lib(text_file, blocker / "run", max_steps=60)


def test_disk_full_names_the_file_and_keeps_the_last_checkpoint(text_file, tmp_path, monkeypatch):
    out = tmp_path / "run"
    calls = []
    real_savez = np.savez

    def savez_until_full(f, **arrays):
        calls.append(1)
        if len(calls) > 2:
            raise OSError(28, "No space left on device")
        real_savez(f, **arrays)

    monkeypatch.setattr(np, "savez", savez_until_full)
    with pytest.raises(OSError) as info:
        run_lib(text_file, out, max_steps=200)
    assert str(info.value) == f"could not write {out / 'last.npz'}: No space left on device"
    assert checkpoint.load(out / "last.npz")[1]["step"] == 50
    assert not list(out.glob(".*.tmp"))
    assert run_folder.folder_state(out)[0] == "interrupted"


# ----------------------------------------------------------- line endings and progress

def test_crlf_text_gives_the_same_vocabulary_as_its_lf_twin(tmp_path):
    text = learnable_text()
    (tmp_path / "lf.txt").write_bytes(text.encode())
    (tmp_path / "crlf.txt").write_bytes(text.replace("\n", "\r\n").encode())
    (tmp_path / "cr.txt").write_bytes(text.replace("\n", "\r").encode())
    lf, _ = corpus.read(tmp_path / "lf.txt")
    crlf, converted = corpus.read(tmp_path / "crlf.txt")
    assert crlf == lf and converted == text.count("\n")
    assert corpus.read(tmp_path / "cr.txt")[0] == lf
    raw, kept = corpus.read(tmp_path / "crlf.txt", keep_carriage_returns=True)
    assert kept == 0 and "\r" in raw and len(corpus.build_vocab(raw)) == len(corpus.build_vocab(lf)) + 1
    plan = runner.plan(data_path=str(tmp_path / "crlf.txt"), out_dir=str(tmp_path / "o"), **TOY)
    assert f"converted {text.count(chr(10)):,} Windows or old-Mac line endings" in runner.describe(plan)


def test_single_character_text_trains_with_a_warning(tmp_path):
    (tmp_path / "a.txt").write_text("a" * 300)
    plan = runner.plan(data_path=str(tmp_path / "a.txt"), out_dir=str(tmp_path / "o"), max_steps=20,
                             **TOY)
    assert "single distinct character ('a')" in runner.describe(plan)
    assert runner.execute(plan, progress=None)["summary"]["steps"] == 20


def test_progress_lines_say_done_total_loss_speed_and_time_left():
    read_end, write_end = os.pipe()
    line_progress = progress.LineProgress(1000, "train_10ep", start_step=0, every=0.0, stream_fd=write_end)
    for step in (100, 200):
        line_progress({"kind": "log", "step": step, "smooth_loss": 52.125, "epoch": 1})
    line_progress.close()
    os.close(write_end)
    lines = os.read(read_end, 65536).decode().splitlines()
    os.close(read_end)
    assert lines[0] == "train_10ep: 0/1,000 updates to do from here"
    assert lines[2].startswith("train_10ep: 200/1,000 updates (20%), smooth loss 52.12, ")
    assert lines[2].endswith(" left") and " us/update, " in lines[2]
    assert lines[-1].startswith("train_10ep: done")


def test_papermill_prints_progress_to_the_terminal_not_the_notebook(text_file, tmp_path):
    result = ok(papermill(NOTEBOOKS / "train.ipynb", tmp_path / "p.ipynb", tmp_path, ("data_path", text_file),
                          ("out_dir", tmp_path / "run"), ("m", 5), ("max_steps", 100), ("log_every", 10)))
    assert f"{tmp_path.name}/run: 0/100 updates to do from here" in result.stderr
    assert f"{tmp_path.name}/run: done" in result.stderr
    executed = (tmp_path / "p.ipynb").read_text()
    assert "updates to do from here" not in executed and "application/vnd.jupyter.widget" not in executed


# ----------------------------------------------------------- results of shorter runs, held-out text

def test_snapshot_of_a_longer_run_is_the_shorter_run_bitwise(text_file, tmp_path):
    long = run_lib(text_file, tmp_path / "long", epochs=3, snapshot_epochs=[1, 2])
    assert long["action"] == "new"
    for k in (1, 2):
        run_lib(text_file, tmp_path / f"only{k}", epochs=k)
        snapshot, alone = tmp_path / "long" / f"epochs_{k}", tmp_path / f"only{k}"
        assert run_folder.folder_state(snapshot)[0] == "finished"
        same_arrays(snapshot / "last.npz", alone / "last.npz")
        for name in rnn_names():
            assert checkpoint.load_model(snapshot / "best.npz")[0][name].tobytes() == \
                checkpoint.load_model(alone / "best.npz")[0][name].tobytes()
        assert run_files.read_history(snapshot) == run_files.read_history(alone)
        assert run_files.read_samples(snapshot) == run_files.read_samples(alone)
        a, b = run_files.read_summary(snapshot), run_files.read_summary(alone)
        for key in ("epochs", "steps", "best_step", "best_smooth_loss", "final_smooth_loss", "epoch_starts"):
            assert a[key] == b[key], key
    # The snapshot folder is a run folder like any other: asking it for its own length reuses it.
    again = run_lib(text_file, tmp_path / "long" / "epochs_2", epochs=2)
    assert again["action"] == "reuse"
    with pytest.raises(run_folder.RunFolderError, match="without keeping its end"):
        run_lib(text_file, tmp_path / "only2", epochs=3, snapshot_epochs=[1])
    with pytest.raises(checks.ParameterError, match="snapshot_epochs must be fewer than epochs=2"):
        runner.plan(**params(text_file, tmp_path / "x", epochs=2, snapshot_epochs=[2]))


def rnn_names():
    return ("b", "c", "U", "W", "V")


def test_heldout_text_is_evaluated_and_named(text_file, tmp_path, monkeypatch):

    held = tmp_path / "heldout.txt"
    held.write_text(learnable_text(n_words=400, seed=5), encoding="utf-8")
    monkeypatch.setattr(sidecar, "heldout_path", lambda data_path: held)
    monkeypatch.setattr(sidecar, "read_info", lambda data_path: {"heldout": {"play": "comedies/toy"}})
    plan = runner.plan(**params(text_file, tmp_path / "run", max_steps=120, eval_every=40))
    assert "held out, never trained on: comedies/toy" in runner.describe(plan)
    summary = runner.execute(plan, progress=None)["summary"]
    history = run_files.read_history(tmp_path / "run")
    evaluated = [s for s, v in zip(history["step"], history["val_bpc"]) if not np.isnan(v)]
    assert evaluated == [40, 80, 120]
    params_, vocab, _ = checkpoint.load_model(tmp_path / "run" / "best.npz")
    expected = reference.bits_per_char(params_, corpus.encode(held.read_text(), vocab))
    assert summary["heldout"]["name"] == "comedies/toy"
    assert summary["heldout"]["best_bpc"] == pytest.approx(expected, rel=1e-10)
    # Another held-out text makes it another run.
    held.write_text(learnable_text(n_words=400, seed=6), encoding="utf-8")
    with pytest.raises(run_folder.RunFolderError, match="held-out text"):
        runner.execute(runner.plan(**params(text_file, tmp_path / "run", max_steps=120,
                                                        eval_every=40)), progress=None)


def test_live_jupyter_front_end_gets_the_bar_not_terminal_lines(text_file, tmp_path):
    """A front end that can answer input (Jupyter Lab, Notebook) sends allow_stdin=True: the bar is drawn."""
    from jupyter_client.manager import start_new_kernel

    kernel, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        code = (f"from lib.training import runner\n"
                f"run = runner.plan(data_path={str(text_file)!r}, out_dir={str(tmp_path / 'run')!r}, "
                f"m=5, max_steps=200, log_every=10)\n"
                f"result = runner.execute(run)\n"
                f"print(result['action'], result['summary']['steps'])")
        messages = []
        reply = client.execute_interactive(code, allow_stdin=True, output_hook=messages.append, timeout=120)
        assert reply["content"]["status"] == "ok"
        shown = [m["content"] for m in messages if m["msg_type"] in ("display_data", "stream")]
        assert any("application/vnd.jupyter.widget-view+json" in c.get("data", {}) for c in shown)
        assert any(c.get("text", "").strip() == "new 200" for c in shown)
    finally:
        client.stop_channels()
        kernel.shutdown_kernel(now=True)


def test_front_ends_that_cannot_be_told_apart_get_the_progress_lines_in_the_cell(text_file, tmp_path):
    """A front end sending allow_stdin=False (older VS Code) or nothing (others) from a kernel that
    papermill or make did not start: the bar, and the plain lines in the cell's output."""
    from jupyter_client.manager import start_new_kernel

    kernel, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))

    def train_in_cell(out, **content):
        code = (f"from lib.training import runner\n"
                f"run = runner.plan(data_path={str(text_file)!r}, out_dir={str(tmp_path / out)!r}, "
                f"m=5, max_steps=200, log_every=10)\n"
                f"print(runner.execute(run)['action'])")
        request = client.session.msg("execute_request", dict(code=code, silent=False, store_history=True,
                                                            user_expressions={}, stop_on_error=True, **content))
        client.shell_channel.send(request)
        shown = []
        while True:
            message = client.get_iopub_msg(timeout=120)
            if message["parent_header"].get("msg_id") != request["header"]["msg_id"]:
                continue
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return shown
            if message["msg_type"] in ("display_data", "stream", "error"):
                shown.append(message["content"])

    try:
        for out, content in (("sent_false", {"allow_stdin": False}), ("sent_nothing", {})):
            shown = train_in_cell(out, **content)
            text = "".join(c.get("text", "") for c in shown if c.get("name") == "stdout")
            assert f"{tmp_path.name}/{out}: 0/200 updates to do from here" in text, (out, shown)
            assert f"{tmp_path.name}/{out}: done" in text and text.strip().endswith("new"), out
            assert any("application/vnd.jupyter.widget-view+json" in c.get("data", {}) for c in shown), out
    finally:
        client.stop_channels()
        kernel.shutdown_kernel(now=True)


def test_only_papermill_nbconvert_and_make_are_known_headless(monkeypatch):
    from lib.jupyter import front_end

    class Parent:
        def __init__(self, *words):
            self.words = list(words)

        def cmdline(self):
            return self.words

    def started_by(*words):
        monkeypatch.setattr(front_end.psutil.Process, "parent", lambda self: Parent(*words))
        return front_end._launched_by_headless_runner()

    assert started_by("/x/.venv/bin/python", "-m", "papermill", "a.ipynb", "b.ipynb")
    assert started_by("/x/.venv/bin/python", "/x/.venv/bin/papermill", "a.ipynb")
    assert started_by(r"C:\x\.venv\Scripts\papermill.exe", "a.ipynb", "b.ipynb")
    assert started_by("/usr/bin/python3", "/x/bin/jupyter-nbconvert", "--execute", "a.ipynb")
    assert not started_by("/x/.venv/bin/python", "-m", "pytest", "tests/papermill.py", "-k", "nbconvert")
    assert not started_by("/x/.venv/bin/python", "/x/bin/jupyter-lab")
    monkeypatch.setattr(front_end, "_request", lambda: {"allow_stdin": False})
    assert progress.auto_mode() == "bar+lines"                  # started by jupyter-lab, as just set
    monkeypatch.setenv(front_end.HEADLESS_ENV, "1")
    assert progress.auto_mode() == "lines"                      # started by lib.jupyter.nbexec (make's stages)
    monkeypatch.setattr(front_end, "_request", lambda: {"allow_stdin": True})
    assert progress.auto_mode() == "bar"
    monkeypatch.setattr(front_end, "_request", lambda: None)
    assert progress.auto_mode() == "lines"                      # no kernel: a terminal


def test_make_stage_is_all_or_nothing_and_quiet(text_file, tmp_path):
    """lib.jupyter.stage: the executed notebook appears only on success; the kernel's log lines stay out."""
    runs_root = tmp_path / "runs"
    executed = runs_root / "gc" / "gradient_check.ipynb"
    cmd = [sys.executable, "-m", "lib.jupyter.stage", "--failures-dir", str(runs_root / ".failed"),
           str(NOTEBOOKS / "gradient_check.ipynb"), str(executed), "-p", "data_path", str(text_file),
           "-p", "out_dir", str(runs_root / "gc"), "-p", "m_values", "[3]"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert executed.is_file() and "Kernel is running over TCP" not in done.stderr
    before = executed.read_bytes()
    # A huge central-difference step makes the check fail.
    failed = subprocess.run(cmd + ["-p", "h", "0.5"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert failed.returncode == 1
    last = stage_lines(failed.stderr)[-1]
    assert last.startswith("error: gc (gradient_check.ipynb): AssertionError: gradient check failed")
    assert executed.read_bytes() == before  # the record of the kept result is not replaced
    assert (runs_root / ".failed" / "gc.gradient_check").read_text().strip() == last
