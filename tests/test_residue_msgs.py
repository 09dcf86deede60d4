"""Issue 30's cases 1, 2, 3, 5, 10 and 11: nothing silent, nothing misleading, each as the user meets it.

Each test goes through the interface the user used (a notebook run by papermill, whose executed copy
holds what Jupyter shows, or the library where that is the interface) and asserts the line the user
sees and that nothing else changed.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
from nbrun import ok, papermill, stage_lines
from toy_corpus import learnable_text
from toy_run import params, run_lib

from lib import atomic, checks, paths
from lib.atomic import OneLine
from lib.records import record_files
from lib.text import corpus, sidecar
from lib.training import checkpoint, run_files, run_folder, runner

NOTEBOOKS = paths.REPO_ROOT / "notebooks"


def folder_bytes(folder):
    """{relative path: bytes} of every file under folder but the lock's holder (it names the last process)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock-holder.json"}


def outputs(executed):
    """Every output of an executed notebook: its printed text and its errors (what Jupyter shows)."""
    cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    return [o for c in cells for o in c.get("outputs", [])]


def printed(executed):
    return "".join(o["text"] if isinstance(o["text"], str) else "".join(o["text"])
                   for o in outputs(executed) if "text" in o)


def shown_error(executed):
    """The lines Jupyter shows for the error that stopped the notebook (its error output's traceback)."""
    errors = [o for o in outputs(executed) if o["output_type"] == "error"]
    assert len(errors) == 1, errors
    return errors[0]["traceback"]


def last_line(result):
    return stage_lines(result.stderr)[-1]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 200-update toy run (samples every 50 updates, a tenth of the text held out)."""
    work = tmp_path_factory.mktemp("finished")
    text = work / "toy.txt"
    text.write_text(learnable_text(), encoding="utf-8")
    run = work / "run"
    run_lib(text, run, max_steps=200, val_fraction=0.1)
    return run


# ----------------------------------------------------------- 1: retrain says which derived files go and why

def test_a_retrain_names_the_notebook_files_it_removes_and_why(text_file, tmp_path):
    run = tmp_path / "run"
    run_lib(text_file, run, max_steps=60)
    ok(papermill(NOTEBOOKS / "best_model.ipynb", tmp_path / "b.ipynb", tmp_path, ("run_dir", run),
                 ("passage_len", 20), ("sweep_len", 10), ("measure_draws", 0)))
    assert (run / "passage.json").is_file()
    (run / "thesis.txt").write_text("mine\n", encoding="utf-8")
    ok(papermill(NOTEBOOKS / "train.ipynb", tmp_path / "t.ipynb", tmp_path,
                 *params(text_file, run, max_steps=80, retrain=True).items()))
    assert (f"removed best_model.ipynb's passage.json from {run}: it was made from the model of the run this "
            f"retrain replaced; run best_model.ipynb again for this run's\nretrained {run}: updates 0 to 80"
            in printed(tmp_path / "t.ipynb"))
    assert not (run / "passage.json").exists() and run_files.read_summary(run)["steps"] == 80
    assert (run / "thesis.txt").read_text(encoding="utf-8") == "mine\n"


def test_more_epochs_name_the_notebook_files_they_remove(text_file, tmp_path):
    run = tmp_path / "run"
    run_lib(text_file, run, max_steps=60)
    for name in ("inside.json", "inside_units.png", "inside_units.pdf", "evolution.json"):
        (run / name).write_text("{}", encoding="utf-8")
    line = runner.report_line(run_lib(text_file, run, max_steps=100))
    assert line.splitlines()[0] == (
        f"removed text_evolution.ipynb's evolution.json; inside.ipynb's inside.json and 2 figures (inside_*.png, "
        f"inside_*.pdf) from {run}: they were made from the model of update 60, before this training continued "
        f"the run; run text_evolution.ipynb and inside.ipynb again for this run's")
    assert line.splitlines()[1].startswith(f"continued {run}: updates 60 to 100")
    assert run_folder.readers_outputs(run) == {}


def test_an_interrupted_continuation_says_which_notebook_files_went(text_file, tmp_path, monkeypatch):
    run = tmp_path / "run"
    run_lib(text_file, run, max_steps=60)
    (run / "passage.json").write_text("{}", encoding="utf-8")

    def stopped(total, label, start_step=0, mode="auto"):
        def on_event(event):
            if event["kind"] == "log" and event["step"] >= 80:
                raise KeyboardInterrupt
        on_event.close, on_event.seconds = (lambda: None), 0.0
        return on_event
    monkeypatch.setattr(runner, "make_progress", stopped)
    with pytest.raises(runner.TrainingInterrupted) as info:
        run_lib(text_file, run, max_steps=200)
    shown = info.value._render_traceback_()
    assert len(shown) == 1 and shown[0].endswith(
        f"; removed best_model.ipynb's passage.json from {run}: it was made from the model of update 60, before "
        f"this training continued the run; run best_model.ipynb again for this run's")
    assert not (run / "passage.json").exists()


def test_a_run_shown_again_removes_nothing_and_says_nothing_of_it(text_file, tmp_path):
    run = tmp_path / "run"
    run_lib(text_file, run, max_steps=60)
    (run / "passage.json").write_text("{}", encoding="utf-8")
    before = folder_bytes(run)
    line = runner.report_line(run_lib(text_file, run, max_steps=60))
    assert line.startswith(f"reused the finished run in {run}") and "removed" not in line
    assert folder_bytes(run) == before


# ----------------------------------------------------------- 2: text_evolution names the steps it has no sample of

def test_text_evolution_names_the_steps_asked_for_that_have_no_sample(finished_run, tmp_path):
    before = folder_bytes(finished_run)
    ok(papermill(NOTEBOOKS / "text_evolution.ipynb", tmp_path / "e.ipynb", tmp_path, ("run_dir", finished_run),
                 ("every", 75), ("up_to", 150), ("out_dir", tmp_path / "e")))
    lines = printed(tmp_path / "e.ipynb").splitlines()
    assert lines[:2] == [f"2 samples from {finished_run}",
                         "no sample at step 75 of those asked for (every=75, up_to=150): the run drew its samples at "
                         "steps 0, 50, 100, 150 and 200; an every that is a multiple of 50 finds one at each step"]
    assert [s["step"] for s in run_files.read_evolution(tmp_path / "e")["samples"]] == [0, 150]
    assert folder_bytes(finished_run) == before


def test_text_evolution_says_nothing_of_missing_steps_when_each_has_a_sample(finished_run, tmp_path):
    ok(papermill(NOTEBOOKS / "text_evolution.ipynb", tmp_path / "e.ipynb", tmp_path, ("run_dir", finished_run),
                 ("every", 100), ("up_to", 200), ("out_dir", tmp_path / "e")))
    assert printed(tmp_path / "e.ipynb").splitlines()[0] == f"3 samples from {finished_run}"
    assert "no sample at" not in printed(tmp_path / "e.ipynb")


# ----------------------------------------------------------- 3: a run_dir or out_dir that is a file

def test_best_model_given_a_file_as_run_dir_says_it_is_a_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n", encoding="utf-8")
    result = papermill(NOTEBOOKS / "best_model.ipynb", tmp_path / "b.ipynb", tmp_path, ("run_dir", notes))
    assert result.returncode != 0
    assert last_line(result) == (f"RunFolderError: run_dir {notes} is a file, not a run folder: give the folder "
                                 f"train.ipynb trained the run in")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.ipynb", "notes.txt"]
    assert notes.read_text(encoding="utf-8") == "mine\n"


def test_inside_given_a_runs_model_as_run_dir_names_the_run_folder(finished_run, tmp_path):
    before = folder_bytes(finished_run)
    result = papermill(NOTEBOOKS / "inside.ipynb", tmp_path / "i.ipynb", finished_run.parent,
                       ("run_dir", "run/best.npz"))
    assert result.returncode != 0
    assert last_line(result) == (f"RunFolderError: run_dir run/best.npz is a file ({finished_run / 'best.npz'}), "
                                 f"not a run folder: give the folder train.ipynb trained the run in, {finished_run}")
    assert folder_bytes(finished_run) == before


def test_train_given_a_file_as_out_dir_says_it_is_a_file(text_file, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("mine\n", encoding="utf-8")
    result = papermill(NOTEBOOKS / "train.ipynb", tmp_path / "t.ipynb", tmp_path,
                       *params(text_file, blocker, max_steps=60).items())
    assert result.returncode != 0
    assert last_line(result) == (f"RunFolderError: out_dir {blocker} cannot be used: it is a file, not a folder; "
                                 f"a run needs a folder of its own: choose a new or empty one (nothing was touched)")
    assert blocker.read_text(encoding="utf-8") == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "t.ipynb"]


def test_best_model_given_a_file_as_out_dir_says_so_before_sampling(finished_run, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("mine\n", encoding="utf-8")
    before = folder_bytes(finished_run)
    result = papermill(NOTEBOOKS / "best_model.ipynb", tmp_path / "b.ipynb", tmp_path, ("run_dir", finished_run),
                       ("out_dir", "a_file"))
    assert result.returncode != 0
    assert last_line(result) == ("RunFolderError: out_dir a_file is a file, not a folder: give a folder for the "
                                 "notebook's files (None: the run's folder)")
    assert "best model of" not in printed(tmp_path / "b.ipynb")  # refused before the model was even read
    assert blocker.read_text(encoding="utf-8") == "mine\n" and folder_bytes(finished_run) == before


def test_a_file_written_under_a_file_names_the_file_in_the_way(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("mine\n", encoding="utf-8")
    with pytest.raises(atomic.WriteError) as info:
        atomic.atomic_write(blocker / "gc" / "gradcheck.json", lambda f: f.write(b"{}"))
    assert str(info.value) == f"could not write {blocker / 'gc' / 'gradcheck.json'}: {blocker} is a file, not a folder"
    assert blocker.read_text(encoding="utf-8") == "mine\n"


# ----------------------------------------------------------- 5: an unknown name says where it belongs

@pytest.mark.parametrize("notebook, given, line", [
    ("train.ipynb", ("top_p", 0.9), "train.ipynb has no parameter top_p (it is best_model.ipynb's top_ps and --top-p "
                                    "of the sampling command, python -m lib.sample)"),
    ("train.ipynb", ("passage_len", 100), "train.ipynb has no parameter passage_len (it is best_model.ipynb's "
                                          "passage_len)"),
    ("text_evolution.ipynb", ("epochs", 2), "text_evolution.ipynb has no parameter epochs (it is train.ipynb's "
                                            "epochs)"),
    ("best_model.ipynb", ("length", 100), "best_model.ipynb has no parameter length (it is --length of the sampling "
                                          "command, python -m lib.sample)"),
    ("best_model.ipynb", ("temprature", 0.5), "best_model.ipynb has no parameter temprature (did you mean "
                                              "temperatures?)"),
])
def test_an_unknown_parameter_says_where_it_belongs_or_the_nearest_name(notebook, given, line, tmp_path):
    result = papermill(NOTEBOOKS / notebook, tmp_path / "x.ipynb", tmp_path, given, ("out_dir", tmp_path / "out"))
    assert result.returncode != 0 and last_line(result) == f"ParameterError: {line}"
    assert shown_error(tmp_path / "x.ipynb") == [f"ParameterError: {line}"]
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------- 10: a user's mistake is one line in Jupyter

@pytest.mark.parametrize("setting, line", [
    (("batch_size", 0), "batch_size must be a positive integer (or None: the protocol's), got 0"),
    (("order", "shuffled"), "order must be one of 'sequential', 'chunks', 'random', got 'shuffled'"),
    (("protocol", 2025), "protocol must be one of '2021', '2026', 'gated', got 2025"),
])
def test_a_bad_training_setting_is_one_line_in_jupyter(setting, line, text_file, tmp_path):
    result = papermill(NOTEBOOKS / "train.ipynb", tmp_path / "t.ipynb", tmp_path, ("data_path", text_file),
                       ("out_dir", tmp_path / "run"), setting)
    assert result.returncode != 0
    assert shown_error(tmp_path / "t.ipynb") == [f"ParameterError: {line}"]  # all JupyterLab shows
    assert last_line(result) == f"ParameterError: {line}"                    # papermill's last line, as before
    assert not (tmp_path / "run").exists()


def test_a_missing_run_is_one_line_in_jupyter(tmp_path):
    result = papermill(NOTEBOOKS / "best_model.ipynb", tmp_path / "b.ipynb", tmp_path,
                       ("run_dir", tmp_path / "no_such_run"))
    line = (f"RunFolderError: run_dir {tmp_path / 'no_such_run'} does not exist: train it first with "
            f"notebooks/train.ipynb")
    assert shown_error(tmp_path / "b.ipynb") == [line] and last_line(result) == line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.ipynb"]


def test_an_unusable_text_is_one_line_in_jupyter(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    result = papermill(NOTEBOOKS / "train.ipynb", tmp_path / "t.ipynb", tmp_path, ("data_path", empty),
                       ("out_dir", tmp_path / "run"))
    shown = shown_error(tmp_path / "t.ipynb")
    assert shown == [f"CorpusError: data file is empty: {empty}"] and last_line(result) == shown[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("error", [checks.ParameterError, run_folder.RunFolderError, run_folder.FolderNotWritable,
                                   corpus.CorpusError, record_files.RecordsError, checkpoint.CheckpointError,
                                   run_files.ArtifactError, sidecar.PrepareError])
def test_every_error_of_a_users_mistake_renders_as_its_line(error):
    raised = error("what is wrong, and what to do")
    assert isinstance(raised, OneLine)
    assert raised._render_traceback_() == [f"{error.__name__}: what is wrong, and what to do"]


# ----------------------------------------------------------- 11: run_dir None takes the run trained last

def installed_home(tmp_path):
    """lib outside any clone, as pip install . or Colab has it, with CHARRNN_HOME a folder of its own: the
    environment a notebook run there gets, and the home's runs/."""
    site = tmp_path / "site"
    shutil.copytree(paths.REPO_ROOT / "lib", site / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    home = tmp_path / "home"
    (home / "runs").mkdir(parents=True)
    return dict(os.environ, PYTHONPATH=str(site), CHARRNN_HOME=str(home)), home / "runs"


def papermill_in(env, notebook, output, cwd, *parameters):
    cmd = [sys.executable, "-m", "papermill", "--log-level", "ERROR", str(notebook), str(output)]
    for name, value in parameters:
        cmd += ["-p", name, str(value)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("notebook, parameters", [
    ("best_model.ipynb", (("passage_len", 20), ("sweep_len", 10), ("measure_draws", 0))),
    ("text_evolution.ipynb", (("every", 50), ("up_to", 100))),
    ("inside.ipynb", (("chars", 300), ("ngram_max", 2))),
])
def test_run_dir_none_reads_the_run_trained_last_and_says_which(notebook, parameters, text_file, tmp_path):
    env, runs = installed_home(tmp_path)
    for name in ("train_10ep", "train_10ep_2026_max_steps60", "unfinished"):
        run_lib(text_file, runs / name, max_steps=60, val_fraction=0.1)
    status = run_folder.read_status(runs / "unfinished")
    run_folder.write_status(runs / "unfinished", "running", **{k: v for k, v in status.items()
                                                                 if k not in ("state", "updated_at")})
    last = runs / "train_10ep_2026_max_steps60"
    when = run_folder.read_status(last)["updated_at"].replace("T", " ").replace("+00:00", " UTC")
    before = {name: folder_bytes(runs / name) for name in ("train_10ep", "unfinished")}
    ok(papermill_in(env, NOTEBOOKS / notebook, tmp_path / "out.ipynb", tmp_path, *parameters))
    assert printed(tmp_path / "out.ipynb").splitlines()[0] == (
        f"run_dir None: reading {last}, the run trained last (finished {when}); set run_dir for another of the 2 "
        f"finished runs in {runs}: train_10ep")
    written = {"best_model.ipynb": "passage.json", "text_evolution.ipynb": "evolution.json",
               "inside.ipynb": "inside.json"}[notebook]
    assert (last / written).is_file()
    assert {name: folder_bytes(runs / name) for name in before} == before


def test_run_dir_none_with_no_finished_run_says_so_in_one_line(text_file, tmp_path):
    env, runs = installed_home(tmp_path)
    run_lib(text_file, runs / "train_10ep", max_steps=60)
    status = run_folder.read_status(runs / "train_10ep")
    run_folder.write_status(runs / "train_10ep", "running", **{k: v for k, v in status.items()
                                                                 if k not in ("state", "updated_at")})
    before = folder_bytes(runs)
    result = papermill_in(env, NOTEBOOKS / "best_model.ipynb", tmp_path / "b.ipynb", tmp_path)
    line = (f"RunFolderError: run_dir None: there is no finished run in {runs} (train_10ep (interrupted)): train one "
            f"with notebooks/train.ipynb, or set run_dir to a finished run's folder")
    assert result.returncode != 0 and last_line(result) == line and shown_error(tmp_path / "b.ipynb") == [line]
    assert folder_bytes(runs) == before


def test_a_given_run_dir_is_read_as_before_and_the_default_folder_still_works(tmp_path):
    assert run_folder.locate(str(tmp_path)) == tmp_path.resolve()
    assert run_folder.locate(None, paths.RUNS_DIR / "train_10ep") == paths.RUNS_DIR / "train_10ep"
    with pytest.raises(run_folder.RunFolderError, match=f"there is no finished run in {tmp_path}: train one"):
        run_folder.locate(None, runs_dir=tmp_path)
