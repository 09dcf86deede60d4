"""Issue 30's items 4, 6, 7, 8, 9 and 14 as a user meets them: the line the user sees, and nothing else changed.

Each test goes through the interface the user used: a notebook run by papermill, make (a dry run, or a toy
stage on a small text), or the library where that is the interface.
"""

import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import load_script
from nbrun import ok, papermill
from toy_corpus import learnable_text
from toy_run import run_lib

from lib import paths
from lib.inside import analysis, inside_report, ngram
from lib.training import run_files

NOTEBOOKS = paths.REPO_ROOT / "notebooks"


def folder_bytes(folder):
    """{relative path: bytes} of every file under folder."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock-holder.json"}


def markdown_shown(executed):
    """Every Markdown output of an executed notebook, in order."""
    cells = json.loads(Path(executed).read_text(encoding="utf-8"))["cells"]
    return ["".join(o["data"]["text/markdown"]) for c in cells for o in c.get("outputs", [])
            if "text/markdown" in o.get("data", {})]


# ----------------------------------------------------------- 4: inside.ipynb on text the run trained on

@pytest.fixture(scope="module")
def unheld_run(tmp_path_factory):
    """A toy run that held nothing out (so text_path is needed), trained on learnable_text()."""
    work = tmp_path_factory.mktemp("unheld")
    corpus_file = work / "toy.txt"
    corpus_file.write_text(learnable_text(), encoding="utf-8")
    run = work / "run"
    run_lib(corpus_file, run, max_steps=120)
    return run


def look_inside(run, text, tmp_path):
    """inside.ipynb on run with text_path a file holding text; returns (shown Markdown, inside.json, the
    run's files before the look, after it but for what the look writes)."""
    passage_file = tmp_path / "passage.txt"
    passage_file.write_text(text, encoding="utf-8")
    out = tmp_path / "looked"
    before = folder_bytes(run)
    ok(papermill(NOTEBOOKS / "inside.ipynb", tmp_path / "inside.ipynb", tmp_path, ("run_dir", run),
                 ("text_path", passage_file), ("chars", 1000), ("ngram_max", 4), ("out_dir", out)))
    return markdown_shown(tmp_path / "inside.ipynb"), analysis.read(out), before, folder_bytes(run)


def test_inside_on_a_passage_of_the_training_text_draws_no_comparison(unheld_run, tmp_path):
    shown, data, before, after = look_inside(unheld_run, learnable_text()[2000:4000], tmp_path)
    assert data["seen_in_training"] == {"length": analysis.SEEN_LENGTH, "chars": 1000, "share": 1.0}
    conclusion = [text for text in shown if text.startswith("Character n-gram models") or "No comparison" in text]
    assert len(conclusion) == 1, shown
    assert conclusion[0].startswith("No comparison here: 100.0% of this passage (1,000 of 1,000 characters) lies "
                                    f"in strings of {analysis.SEEN_LENGTH} or more characters that the training "
                                    "text holds too"), conclusion[0]
    assert "beats" not in conclusion[0] and "Give text_path a text the run never saw." in conclusion[0]
    assert before == after                       # the run itself is untouched: inside went to out_dir


def test_inside_on_a_new_passage_draws_its_comparison(unheld_run, tmp_path):
    new_text = learnable_text(seed=7)            # the same words in other orders: n-grams seen, lines not
    shown, data, before, after = look_inside(unheld_run, new_text, tmp_path)
    assert data["seen_in_training"]["share"] < analysis.SEEN_SHARE
    conclusion = [text for text in shown if text.startswith("Character n-gram models")]
    assert len(conclusion) == 1 and " beats " in conclusion[0] and "No comparison" not in conclusion[0]
    assert before == after


def test_seen_in_training_counts_the_characters_of_shared_strings():
    training = "the quick brown fox jumps over the lazy dog and runs far away"
    passage = "zz" + training[4:24] + "yy" + training[30:45]   # 20 and 15 characters shared, 4 new
    got = analysis.seen_in_training(training, passage, length=10)
    assert got == {"length": 10, "chars": 35, "share": 35 / 39}
    assert analysis.seen_in_training(training, passage, length=16)["chars"] == 20
    assert analysis.seen_in_training(training, passage, length=21)["chars"] == 0


def test_a_window_of_equal_hash_but_other_characters_is_not_counted(monkeypatch):
    monkeypatch.setattr(analysis, "_window_hashes", lambda codes, length, base: np.zeros(
        max(len(codes) - length + 1, 0), dtype=np.uint64))          # every window collides with every other
    assert analysis.seen_in_training("abcdefghij" * 3, "klmnopqrstuvwxyz", length=5)["chars"] == 0


def test_a_small_overlap_is_named_beside_the_comparison_it_leaves_standing():
    data = {"chars": 100_000, "rnn_bits_per_char": 2.1, "by_kind": [],
            "ngram": [{"n": 1, "bits_per_char": 3.2}, {"n": 2, "bits_per_char": 2.6}],
            "seen_in_training": {"length": analysis.SEEN_LENGTH, "chars": 40, "share": 0.0004}}
    text = inside_report.ngram_text(data)
    assert "The RNN (2.100 bits per character) beats every n-gram model here" in text
    assert text.endswith(f"(under 0.1% of this passage (40 of 100,000 characters) lies in strings of {analysis.SEEN_LENGTH} "
                         f"or more characters that the training text holds too.)"), text
    data["seen_in_training"] = {"length": analysis.SEEN_LENGTH, "chars": 5_000, "share": 0.05}
    assert inside_report.ngram_text(data).startswith("No comparison here: 5.0% of this passage")
    del data["seen_in_training"]                                  # an inside.json written before the count
    assert "beats every n-gram model" in inside_report.ngram_text(data)


# ----------------------------------------------------------- 8: no n-gram seen once or twice

def test_ngram_figures_stay_finite_when_no_ngram_is_seen_once_or_twice():
    train_codes = np.array([0, 1, 2] * 40)               # every j-gram of "abc"*40 is seen 38 times or more
    passage = np.array([0, 1, 3, 2, 0, 3, 3, 1])         # character 3 ("d") never in the training text
    model = ngram.KneserNey(train_codes, 4, 3)
    for n in (1, 2, 3):
        # The top level sees no n-gram once or twice: its discount as if one had been seen once, 1 / (1 + 0),
        # where n1 / (n1 + 2 n2) gave 0 and the unseen "d" a probability of 0 (infinite bits).
        assert model.discounts(n)[-1] == 1.0
        bits = model.bits_per_char(passage, n)
        assert math.isfinite(bits) and bits > 0, n
        # Still a distribution: every next character after the passage's last context sums to one.
        rows = [np.concatenate([passage, [w]]) for w in range(4)]
        assert abs(sum(model.probabilities(row, n)[-1] for row in rows) - 1) < 1e-12


def test_ngram_discount_with_twice_seen_ngrams_and_none_once():
    model = ngram.KneserNey(np.array([0, 1, 0, 1, 2, 2, 2]), 3, 1)   # unigram counts 2, 2, 3
    assert model.discounts(1) == [1 / (1 + 2 * 2)]


def test_an_inside_json_with_an_infinite_figure_is_refused(tmp_path):
    data = {"text_sha256": "x", "chars": 200, "rnn_bits_per_char": 2.0,
            "ngram": [{"n": 1, "bits_per_char": float("inf"), "discounts": [0.0]}],
            "units": [{"feature": f, "r": 0.1, "r_init": 0.0, "r_shuffled": 0.0} for f in analysis.FEATURES],
            "gradient_reach": []}
    (tmp_path / analysis.FILE).write_text(json.dumps(data), encoding="utf-8")   # Infinity, as json writes inf
    with pytest.raises(run_files.ArtifactError, match="inside.json: a figure that is not a number"):
        analysis.read(tmp_path)


# ----------------------------------------------------------- 6: a report of another text goes beside the default one

def make_dry(*args):
    """make -n's output, run from the repository with args."""
    done = subprocess.run(["make", "--no-print-directory", "-n", "-C", str(paths.REPO_ROOT), *args],
                          capture_output=True, text=True, timeout=60)
    return done


def report_built(dry_run_output):
    """(the documents' --name, --runs' first folder) of the report build.py line of a dry run."""
    line = next(line for line in dry_run_output.splitlines() if "report/build.py" in line)
    return re.search(r"--name (\S+)", line).group(1), re.search(r"--runs (\S+)", line).group(1)


@pytest.mark.skipif(sys.platform == "win32", reason="make")
@pytest.mark.parametrize("settings, name, runs", [
    ([], "report", "runs/report/"),
    (["PROTOCOL=2026"], "report-2026", "runs/report-2026/"),
    (["DATA={book}"], "report-goblet_book", "runs/report-goblet_book/"),
    (["DATA={book}", "PROTOCOL=2026"], "report-goblet_book-2026", "runs/report-goblet_book-2026/"),
    (["DATA={book}", "REPORT=goblet"], "goblet", "runs/report-goblet_book/"),
    (["DATA=data/shakespeare/input.txt"], "report", "runs/report/"),   # the default corpus, named
])
def test_a_report_of_another_text_goes_beside_the_default_one(settings, name, runs, tmp_path):
    book = tmp_path / "goblet_book.txt"
    book.write_text(learnable_text(), encoding="utf-8")
    args = [s.format(book=book) for s in settings]
    if not (paths.REPO_ROOT / "data/shakespeare/input.txt").exists() and "DATA=data/shakespeare/input.txt" in args:
        pytest.skip("the default corpus is not there (make corpus)")
    top = make_dry("report", *args)
    assert top.returncode == 0, top.stderr
    # make report hands the document to a second make: ask that one what it builds.
    target = re.search(r"make --no-print-directory (report/\S+)\.pdf", top.stdout)
    assert target and target.group(1) == f"report/{name}", top.stdout
    built, first_run = report_built(make_dry(f"{target.group(1)}.pdf", *args).stdout)
    assert built == name and first_run.startswith(runs), (built, first_run)


@pytest.mark.skipif(sys.platform == "win32", reason="make")
def test_the_report_of_another_text_names_the_command_that_builds_it(tmp_path):
    book = tmp_path / "goblet_book.txt"
    book.write_text(learnable_text(), encoding="utf-8")
    out = make_dry("report/report-goblet_book-2026.pdf", f"DATA={book}", "PROTOCOL=2026").stdout
    assert f'--command "make report DATA={book} PROTOCOL=2026"' in out


@pytest.mark.skipif(sys.platform == "win32", reason="make")
@pytest.mark.parametrize("report, message", [
    ("a/b", 'REPORT must be a plain file name, without a folder or % (the report goes to report/REPORT.pdf), '
            'got "a/b"'),
    ("my report", 'REPORT must be one file name, without spaces (the report goes to report/REPORT.pdf), '
                  'got "my report"'),
])
def test_a_report_name_with_a_folder_is_refused_in_one_line(report, message, tmp_path):
    done = make_dry("report", f"REPORT={report}", f"RUNS={tmp_path / 'r'}")
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1 and message in lines[0], done.stderr
    assert not done.stdout.strip() and not (tmp_path / "r").exists()


# ----------------------------------------------------------- 7: a setting the notebook refuses changes no stamp

def make_run(*args, cwd):
    return subprocess.run(["make", "--no-print-directory", "-C", str(paths.REPO_ROOT), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def stamps(runs_dir):
    """{name: (bytes, mtime in ns)} of every settings stamp make keeps under runs_dir."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted((runs_dir / ".settings").iterdir())}


@pytest.mark.skipif(sys.platform == "win32", reason="make")
def test_a_bonus_setting_the_notebook_refuses_changes_no_stamp_and_retrains_nothing(tmp_path):
    data = tmp_path / "toy.txt"
    data.write_text(learnable_text(), encoding="utf-8")              # 10,841 characters
    runs_dir = tmp_path / "r"
    target = runs_dir / "bonus" / "order-chunks" / "seed0" / "summary.json"
    good = [f"DATA={data}", f"RUNS={runs_dir}", "BONUS_SEEDS=0", "BONUS_UPDATES=20", "BONUS_EVAL_EVERY=10",
            "BONUS_CHUNKS=4", "BONUS_VAL_CHUNK=3"]
    ok(make_run(str(target), *good, cwd=tmp_path))
    stamped, run_before = stamps(runs_dir), folder_bytes(target.parent)
    assert stamped["bonus-order-chunks-seed0"][0].decode("utf-8").split() == [
        f"data={data}", "protocol=2021", "updates=20", "chunks=4", "val_chunk=3", "eval_every=10"]

    # 2,000 pieces of 5 characters: make cannot know the text is too short for them; the notebook refuses.
    refused = make_run(str(target), *good[:-2], "BONUS_CHUNKS=2000", "BONUS_VAL_CHUNK=3", cwd=tmp_path)
    assert refused.returncode != 0
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "chunks=2000 is more chunks than the text has sequences" in errors[0], refused.stderr
    assert stamps(runs_dir) == stamped                               # not a byte, not a nanosecond
    assert folder_bytes(target.parent) == run_before                 # the finished run is whole

    question = subprocess.run(["make", "-q", "-C", str(paths.REPO_ROOT), str(target), *good], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
    assert question.returncode == 0, "the good settings again would retrain the run"
    again = make_run(str(target), *good, cwd=tmp_path)
    assert again.returncode == 0 and "lib.jupyter.stage" not in again.stdout, again.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="make")
def test_a_changed_setting_still_retrains_and_then_stamps_it(tmp_path):
    runs_dir = tmp_path / "r"
    run = runs_dir / "seed0" / "train_10ep"
    run.mkdir(parents=True)
    (runs_dir / ".settings").mkdir()
    corpus_ok = runs_dir / ".settings" / "corpus-ok"
    now = time.time_ns()
    corpus_ok.touch()
    os.utime(corpus_ok, ns=(now + 10**12, now + 10**12))         # after every source file, before the summary
    (run / "summary.json").touch()
    os.utime(run / "summary.json", ns=(now + 2 * 10**12, now + 2 * 10**12))
    args = [str(run / "summary.json"), f"RUNS={runs_dir}", "SEEDS=0", "EPOCHS=10"]
    if not (paths.REPO_ROOT / "data/shakespeare/input.txt").exists():
        pytest.skip("the default corpus is not there (make corpus)")
    stage_lines = [line for line in make_dry(*args).stdout.splitlines() if "lib.jupyter.stage" in line]
    assert len(stage_lines) == 1                                 # no stamp: made with settings unknown
    stamp = runs_dir / ".settings" / "seed0"
    stamp.write_text("data=data/shakespeare/input.txt protocol=2021 epochs=10 kept= seed=0 eval_every=40000\n",
                     encoding="utf-8")
    assert not [line for line in make_dry(*args).stdout.splitlines() if "lib.jupyter.stage" in line]
    changed = make_dry(*args, "EVAL_EVERY=500").stdout.splitlines()
    assert len([line for line in changed if "lib.jupyter.stage" in line]) == 1
    # The stamp is written after the stage, with the settings it ran with.
    assert changed[-1] == (f"mkdir -p {runs_dir}/.settings && printf '%s\\n' 'data=data/shakespeare/input.txt "
                           f"protocol=2021 epochs=10 kept= seed=0 eval_every=500' > {runs_dir}/.settings/seed0")


# ----------------------------------------------------------- 9: a rebuilt .venv keeps what was installed by hand

venv_extras = load_script(paths.REPO_ROOT / "tools" / "venv_extras.py", "venv_extras")


def plant(venv, name, version, requires=(), script=None):
    """A distribution installed by hand as a wheel installs it: its package, its dist-info and RECORD, a script."""
    site = venv_extras.site_packages(venv)
    (site / name).mkdir()
    (site / name / "__init__.py").write_text(f"VERSION = {version!r}\n", encoding="utf-8")
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" +
                                   "".join(f"Requires-Dist: {r}\n" for r in requires), encoding="utf-8")
    files = [f"{name}/__init__.py", f"{info.name}/METADATA", f"{info.name}/RECORD"]
    if script:
        (venv / "bin").mkdir(exist_ok=True)
        (venv / "bin" / script).write_text(f"#!/bin/sh\necho {name}\n", encoding="utf-8")
        files.append(Path(os.path.relpath(venv / "bin" / script, site)).as_posix())
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files), encoding="utf-8")


def new_venv(venv):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(venv)], check=True, timeout=120)


def rebuild(venv, stash, lock):
    """make install's steps: save the extras, a venv made again with --clear (the lock's packages left out:
    the steps around them are what is tested), restore; returns what restore said."""
    venv_extras.save(venv, stash, lock)
    new_venv(venv)
    said = []
    venv_extras.restore(venv, stash, lock, out=type("Out", (), {"write": lambda self, s: said.append(s)})())
    return "".join(said).strip().splitlines()


@pytest.fixture
def lock(tmp_path):
    path = tmp_path / "requirements.lock"
    path.write_text("numpy==2.3.1 ; python_version >= '3.11' \\\n    --hash=sha256:00\nTqdm==4.67.1 \\\n"
                    "    --hash=sha256:11\n", encoding="utf-8")
    return path


@pytest.mark.skipif(sys.platform == "win32", reason="a venv's bin/")
def test_a_rebuilt_venv_keeps_a_package_installed_beyond_the_lock_saying_so(tmp_path, lock):
    venv = tmp_path / "venv"
    new_venv(venv)
    plant(venv, "toytorch", "2.13.0+cpu", requires=["toydep>=1", "numpy"], script="toyrun")
    plant(venv, "toydep", "1.5")
    plant(venv, "tqdm", "4.67.1")                          # the lock's own: not kept, the lock puts it back
    before = {p.relative_to(venv).as_posix(): p.read_bytes() for p in venv.rglob("*")
              if p.is_file() and "toy" in p.as_posix()}
    said = rebuild(venv, tmp_path / "stash", lock)
    assert said == [f"kept what was installed in {venv.as_posix()} beyond the lock: toytorch 2.13.0+cpu "
                    f"(and 1 package it brought)"]
    after = {p.relative_to(venv).as_posix(): p.read_bytes() for p in venv.rglob("*")
             if p.is_file() and "toy" in p.as_posix()}
    assert after == before                                 # every file back, byte for byte
    assert not (venv_extras.site_packages(venv) / "tqdm").exists() and not (tmp_path / "stash").exists()
    found = subprocess.run([str(venv / "bin" / "python"), "-c", "import toytorch; print(toytorch.VERSION)"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert found == "2.13.0+cpu"


@pytest.mark.skipif(sys.platform == "win32", reason="a venv's bin/")
def test_a_package_that_cannot_be_kept_is_named_with_the_command_that_adds_it_back(tmp_path, lock):
    venv = tmp_path / "venv"
    new_venv(venv)
    plant(venv, "toytorch", "2.13.0+cpu")
    venv_extras.save(venv, tmp_path / "stash", lock)
    new_venv(venv)
    cfg = venv / "pyvenv.cfg"                               # as if PYTHON=python3.99 had made the new venv
    cfg.write_text(re.sub(r"(?m)^version\s*=.*$", "version = 3.99.0", cfg.read_text(encoding="utf-8")),
                   encoding="utf-8")
    said = []
    venv_extras.restore(venv, tmp_path / "stash", lock,
                        out=type("Out", (), {"write": lambda self, s: said.append(s)})())
    old = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert "".join(said).strip().splitlines() == [
        f"note: dropped toytorch 2.13.0+cpu, installed in {venv.as_posix()} beyond the lock (the rebuilt venv runs "
        f"Python 3.99, the old one {old}): {venv.as_posix()}/bin/python -m pip install 'toytorch==2.13.0+cpu' "
        f"adds it back (with the --index-url it came from)"]
    assert not (venv_extras.site_packages(venv) / "toytorch").exists() and not (tmp_path / "stash").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="a venv's bin/")
def test_a_package_the_old_lock_brought_is_not_kept(tmp_path, lock):
    venv = tmp_path / "venv"
    new_venv(venv)
    plant(venv, "oldlocked", "1.0")
    venv_extras.restore(venv, tmp_path / "nothing", lock)   # make install's record: what the lock put there
    plant(venv, "toytorch", "2.0")
    said = rebuild(venv, tmp_path / "stash", lock)
    assert said == [f"kept what was installed in {venv.as_posix()} beyond the lock: toytorch 2.0"]
    assert not (venv_extras.site_packages(venv) / "oldlocked").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="make")
def test_make_install_moves_the_extras_aside_before_the_clear_and_back_after_the_lock(tmp_path):
    lines = make_dry("install", f"VENV={tmp_path / 'venv'}").stdout.splitlines()
    save = next(i for i, line in enumerate(lines) if "tools/venv_extras.py save" in line)
    clear = next(i for i, line in enumerate(lines) if "-m venv --clear" in line and not line.startswith("echo"))
    locked = next(i for i, line in enumerate(lines) if "install --quiet --require-hashes -r requirements.lock" in line
                  or "--require-hashes -r requirements.lock \\" in line)
    restore = next(i for i, line in enumerate(lines) if "tools/venv_extras.py restore" in line)
    assert save < clear < locked < restore
    assert lines[save].split()[-3:-1] == lines[restore].split()[-3:-1]   # the same venv and stash


# ----------------------------------------------------------- 14: docs/bonus.md's commands, as a 2026 student has them

BONUS_DOC = paths.REPO_ROOT / "docs" / "bonus.md"
needs_corpus = pytest.mark.skipif(not (paths.REPO_ROOT / "data/shakespeare/input.txt").exists(),
                                  reason="the default corpus is not there (make corpus)")


def doc_commands():
    """Every command line of docs/bonus.md's code blocks."""
    blocks = re.findall(r"```\n(.*?)```", BONUS_DOC.read_text(encoding="utf-8"), re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def train_parameters(command):
    """{name: value} of a papermill command's -p pairs, each value read as YAML as papermill reads it."""
    import yaml
    pairs = re.findall(r"-p (\S+) (\S+)", command)
    return {name: yaml.safe_load(value) for name, value in pairs}


def test_every_bonus_command_is_the_venvs_and_the_2026_handouts():
    commands = doc_commands()
    trains = [c for c in commands if "notebooks/train.ipynb" in c]
    assert len(trains) >= 5 and any("batch_size" in c for c in trains)
    for command in commands:
        assert command.startswith((".venv/bin/papermill ", ".venv/bin/python -m lib.sample ")), command
    for command in trains:
        assert train_parameters(command)["protocol"] == 2026, command


@needs_corpus
def test_every_bonus_training_command_is_accepted():
    from lib.training import runner
    for command in doc_commands():
        if "notebooks/train.ipynb" in command:
            parameters = {k: str(v) if k == "protocol" else v for k, v in train_parameters(command).items()}
            planned = runner.plan(**parameters)                 # checks every setting, reads the text, no training
            assert planned["parameters"]["protocol"] == "2026" and planned["steps_per_epoch"] > 0, command


@needs_corpus
def test_a_batch_that_does_not_divide_the_pieces_is_refused_in_one_line_as_the_doc_says(tmp_path):
    text = BONUS_DOC.read_text(encoding="utf-8")
    assert "B must divide the number\nof pieces" in text and "B = 8 is refused in one line" in text
    command = next(c for c in doc_commands() if "-p order chunks -p batch_size 3" in c)
    out = tmp_path / "run"
    refused = papermill(NOTEBOOKS / "train.ipynb", tmp_path / "out.ipynb", paths.REPO_ROOT,
                        *[(k, v) for k, v in train_parameters(command.replace("batch_size 3", "batch_size 8")).items()],
                        ("out_dir", out))
    assert refused.returncode != 0
    last = refused.stderr.strip().splitlines()[-1]
    assert "batch_size=8 must divide the 9 pieces order='chunks' trains on (chunks=10, one of them the val_chunk)" \
        in last, refused.stderr[-2000:]
    assert not out.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="make")
def test_make_help_says_that_make_bench_times_pytorch():
    shown = subprocess.run(["make", "--no-print-directory", "-C", str(paths.REPO_ROOT), "help"], capture_output=True,
                           text=True, check=True).stdout
    bench = shown[shown.index("make bench"):shown.index("make corpus")]
    assert "against PyTorch" in bench and '.venv/bin/python -m pip install ".[torch]"' in bench
