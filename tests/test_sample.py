"""The sampling command (python -m lib.sample), block-wise synthesis, and the interactive sampler."""

import hashlib
import html
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lib import checks, paths, rnn, rnn_fast
from lib.jupyter import front_end
from lib.records import record_files, record_sampling
from lib.sample import command, sampling, widget
from lib.training import checkpoint, run_folder, runner
from nbrun import ok, papermill
from toy_corpus import learnable_text


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny training run (m=16, 300 updates): best.npz and last.npz differ."""
    out = tmp_path_factory.mktemp("run")
    text_file = out.parent / f"{out.name}.txt"
    text_file.write_text(learnable_text(), encoding="utf-8")
    runner.execute(runner.plan(data_path=str(text_file), out_dir=str(out), m=16, max_steps=300,
                                           epochs=1, synth_every=1000, checkpoint_every=1000), progress=None)
    return out


@pytest.fixture(scope="module")
def model(run_dir):
    return checkpoint.load_model(run_dir / checkpoint.BEST_MODEL)


def cli(*args, cwd=None):
    """Run the command in a fresh process, as a user would; returns the CompletedProcess (bytes out)."""
    return subprocess.run([sys.executable, "-m", "lib.sample", *map(str, args)], capture_output=True,
                          timeout=120, cwd=cwd or paths.REPO_ROOT)


def text_of(result):
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    return result.stdout.decode("utf-8")


def folder_digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------- block-wise synthesis

@pytest.mark.parametrize("temperature", [0.7, 1.0])
@pytest.mark.parametrize("block", [1, 7, 64, 1000])
def test_blocks_equal_a_single_draw_and_leave_the_rng_alike(block, temperature):
    K, m, n = 11, 9, 300
    params = rnn.init_params(K, m, 0.5, np.random.default_rng(4))
    prime = np.array([3, 1, 4])
    one_by_one = np.random.default_rng(8)
    # The definition: one uniform per character, drawn as the text goes.
    h, x, expected = np.zeros(m), int(prime[-1]), []
    for t in prime[:-1]:
        h = np.tanh(params["W"] @ h + params["U"][:, t] + params["b"])
    for _ in range(n):
        h = np.tanh(params["W"] @ h + params["U"][:, x] + params["b"])
        o = (params["V"] @ h + params["c"]) / temperature
        x = rnn.softmax_sample(np.exp(o - o.max()), one_by_one.random())
        expected.append(x)
    rng = np.random.default_rng(8)
    blocks = list(rnn_fast.synthesize_blocks(params, np.zeros(m), 0, n, rng, temperature, prime, block=block))
    plain = rnn.synthesize(params, np.zeros(m), 0, n, np.random.default_rng(8), temperature, prime)
    assert plain.tolist() == expected  # lib.rnn, one character at a time, draws the same
    assert [len(b) for b in blocks[:-1]] == [block] * (len(blocks) - 1)
    assert np.concatenate(blocks).tolist() == expected
    assert rng.bit_generator.state == one_by_one.bit_generator.state


def test_argmax_takes_the_most_likely_character_and_no_randomness():
    K, m = 7, 5
    params = rnn.init_params(K, m, 0.8, np.random.default_rng(1))
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    drawn = rnn.synthesize(params, np.zeros(m), 2, 40, rng, argmax=True)
    assert rng.bit_generator.state == before
    h, x = np.zeros(m), 2
    for got in drawn:
        h = np.tanh(params["W"] @ h + params["U"][:, x] + params["b"])
        x = int(np.argmax(params["V"] @ h + params["c"]))
        assert got == x


# ------------------------------------------------------------- the command

def test_prints_exactly_the_sample_and_nothing_else(run_dir, model):
    params, vocab, _ = model
    out = text_of(cli(run_dir, "--length", 250, "--seed", 5, "--temperature", 0.8))
    assert out == sampling.sample_text(params, vocab, 250, 5, 0.8)
    assert len(out) == 250


def test_defaults_are_1000_characters_seed_0_temperature_1(run_dir, model):
    params, vocab, _ = model
    result = cli(run_dir)
    assert text_of(result) == sampling.sample_text(params, vocab, 1000, 0, 1.0)
    assert result.stderr.decode().count("\n") == 1  # one diagnostic line, on stderr


def test_same_seed_same_text_other_seed_other_text(run_dir):
    a, b = (text_of(cli(run_dir, "-n", 300, "--seed", 7)) for _ in range(2))
    c = text_of(cli(run_dir, "-n", 300, "--seed", 8))
    assert a == b and a != c


def test_temperature_changes_the_text(run_dir, model):
    params, vocab, _ = model
    cold = text_of(cli(run_dir, "-n", 300, "-t", 0.3))
    assert cold == sampling.sample_text(params, vocab, 300, 0, 0.3)
    assert cold != text_of(cli(run_dir, "-n", 300, "-t", 1.5))


def test_prime_is_fed_first_and_starts_the_output(run_dir, model):
    params, vocab, _ = model
    out = text_of(cli(run_dir, "--prime", "The dog ran", "-n", 120, "--seed", 2))
    assert out == "The dog ran" + sampling.sample_text(params, vocab, 120, 2, 1.0, prime="The dog ran")
    assert len(out) == len("The dog ran") + 120
    # Priming changes what follows: not the unprimed text with the prime stuck on.
    assert out[len("The dog ran"):] != text_of(cli(run_dir, "-n", 120, "--seed", 2))


def test_prime_file_equals_the_same_prime_given_inline(run_dir, tmp_path):
    prime = "The cat sat on the mat.\nSmall birds"
    path = tmp_path / "prime.txt"
    path.write_text(prime, encoding="utf-8")
    from_file = text_of(cli(run_dir, "--prime-file", path, "-n", 200))
    assert from_file.startswith(prime)
    assert from_file == text_of(cli(run_dir, "--prime", prime, "-n", 200))


def test_argmax_ignores_seed_and_follows_the_model(run_dir, model):
    params, vocab, _ = model
    a = text_of(cli(run_dir, "--argmax", "-n", 150, "--seed", 1))
    assert a == text_of(cli(run_dir, "--argmax", "-n", 150, "--seed", 99))
    start = vocab.index(sampling.start_char(vocab))
    expected = rnn.synthesize(params, np.zeros(params["W"].shape[0]), start, 150, None, argmax=True)
    assert a == "".join(vocab[i] for i in expected)
    assert a != text_of(cli(run_dir, "-n", 150, "--seed", 1))


def test_count_gives_k_samples_with_seeds_s_to_s_plus_k_minus_1(run_dir, model):
    params, vocab, _ = model
    out = text_of(cli(run_dir, "--count", 3, "-n", 80, "--seed", 4, "--prime", "The"))
    parts = ["The" + sampling.sample_text(params, vocab, 80, s, 1.0, prime="The") for s in (4, 5, 6)]
    assert out == "\n\n".join(parts)
    assert len(set(parts)) == 3


def test_which_last_and_a_file_path(run_dir):
    best = text_of(cli(run_dir, "-n", 200))
    assert best == text_of(cli(run_dir / "best.npz", "-n", 200))
    result = cli(run_dir, "--which", "last", "-n", 200)
    assert text_of(result) == text_of(cli(run_dir / "last.npz", "-n", 200))
    # The checkpoint's current parameters, not the best model (here they may coincide).
    assert "last.npz (checkpoint," in result.stderr.decode()
    assert "best.npz (model," in cli(run_dir, "-n", 1).stderr.decode()
    params, vocab, _ = checkpoint.load_model(run_dir / "last.npz")
    assert text_of(result) == sampling.sample_text(params, vocab, 200, 0)


def test_out_writes_the_file_and_nothing_to_stdout(run_dir, tmp_path):
    target = tmp_path / "sample.txt"
    result = cli(run_dir, "-n", 300, "-k", 2, "--out", target)
    assert result.returncode == 0 and result.stdout == b""
    assert target.read_text(encoding="utf-8") == text_of(cli(run_dir, "-n", 300, "-k", 2))


def test_length_zero_prints_only_the_prime(run_dir):
    assert text_of(cli(run_dir, "-n", 0, "--prime", "The cat")) == "The cat"


def test_run_folder_is_byte_identical_after_sampling(run_dir, tmp_path):
    before = folder_digest(run_dir)
    for args in (["-n", 500], ["--which", "last", "-k", 2, "-n", 100], ["--argmax", "--prime", "the"],
                 ["-t", "0"], ["--prime", "QQ"]):
        cli(run_dir, *args)
        cli(run_dir, *args, cwd=run_dir)
    assert folder_digest(run_dir) == before


def test_help_documents_every_option():
    result = cli("--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    for option in ("--length", "--temperature", "--seed", "--prime", "--prime-file", "--argmax",
                   "--count", "--out", "--which", "MODEL"):
        assert option in text, option


def test_console_script_is_installed(run_dir):
    script = paths.REPO_ROOT / ".venv" / "bin" / "charrnn-sample"
    if Path(sys.prefix).resolve() != script.parent.parent.resolve():
        pytest.skip("not running in the project's .venv")
    done = subprocess.run([str(script), str(run_dir), "-n", "50"], capture_output=True, timeout=60)
    assert done.returncode == 0 and done.stdout.decode() == text_of(cli(run_dir, "-n", 50))


# ------------------------------------------------------------- bad input

def bad(result):
    """The one stderr line of a rejected command (exit 2, no traceback, nothing on stdout)."""
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert result.stdout == b""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("charrnn-sample: error: ")
    return lines[0]


def test_missing_path(tmp_path):
    line = bad(cli(tmp_path / "nowhere"))
    assert "nowhere" in line and "no such file" in line


def test_folder_without_a_model(tmp_path):
    line = bad(cli(tmp_path))
    assert "best.npz" in line and "not a training run folder" in line


def test_file_that_is_not_a_model(tmp_path):
    for path, content in ((tmp_path / "notes.txt", b"hello"), (tmp_path / "array.npz", None)):
        if content is None:
            np.savez(path, a=np.zeros(3))
        else:
            path.write_bytes(content)
        line = bad(cli(path))
        assert "not a model" in line and path.name in line


def test_prime_characters_outside_the_vocabulary_are_listed(run_dir, model):
    _, vocab, _ = model
    assert "Z" not in vocab and "é" not in vocab
    line = bad(cli(run_dir, "--prime", "The Zoo é Z"))
    assert "--prime" in line and "'Z'" in line and "'é'" in line and "vocabulary" in line
    assert "'T'" not in line


def test_prime_file_problems(run_dir, tmp_path):
    assert "not found" in bad(cli(run_dir, "--prime-file", tmp_path / "absent.txt"))
    odd = tmp_path / "odd.txt"
    odd.write_text("the X", encoding="utf-8")
    assert "--prime-file" in bad(cli(run_dir, "--prime-file", odd)) and "'X'" in bad(cli(run_dir, "--prime-file", odd))


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "5e-324", "1e-307", "0.000999"])
def test_temperature_must_be_a_temperature(run_dir, value):
    # 5e-324 and 1e-307 pass "positive and finite" but overflow the logits (issue 17, case 7).
    line = bad(cli(run_dir, f"--temperature={value}"))
    assert "--temperature" in line and "at least 0.001" in line and value in line


def test_the_smallest_temperature_samples_cleanly(run_dir, model):
    params, vocab, _ = model
    result = cli(run_dir, "-t", checks.MIN_TEMPERATURE, "-n", 300)
    out = text_of(result)
    assert len(out) == 300 and set(out) <= set(vocab)
    assert "Warning" not in result.stderr.decode() and result.stderr.decode().count("\n") == 1
    # At 0.001 the draw is the most likely character every time here.
    assert out == text_of(cli(run_dir, "--argmax", "-n", 300))


@pytest.mark.parametrize("option", ["--length", "--count"])
def test_negative_length_or_count(run_dir, option):
    line = bad(cli(run_dir, f"{option}=-5"))
    assert option in line and "-5" in line


def test_count_zero_and_non_integers(run_dir):
    assert "--count" in bad(cli(run_dir, "--count", "0"))
    assert "--length" in bad(cli(run_dir, "--length", "1.5"))


def test_which_with_a_file_and_prime_with_prime_file(run_dir, tmp_path):
    assert "--which" in bad(cli(run_dir / "best.npz", "--which", "last"))
    path = tmp_path / "p.txt"
    path.write_text("the", encoding="utf-8")
    assert "not allowed with" in bad(cli(run_dir, "--prime", "a", "--prime-file", path))


def test_run_returns_two_in_process(run_dir, capsys):
    assert command.run([str(run_dir), "--length", "-1"]) == 2
    assert "--length" in capsys.readouterr().err


# ----------------------------------------------------- the interactive sampler

def test_sampler_widgets_redraw_and_write_nothing(run_dir, model):
    pytest.importorskip("ipywidgets")
    params, vocab, _ = model
    before = folder_digest(run_dir)
    box = widget.sampler(params, vocab, length=60, seed=3)
    c = box.controls
    assert (c["temperature"].min, c["temperature"].max) == widget.TEMPERATURE_RANGE
    assert sampling.sample_text(params, vocab, 60, 3, 1.0) in c["text"].value
    c["again"].click()
    assert c["seed"].value == 4
    assert sampling.sample_text(params, vocab, 60, 4, 1.0) in c["text"].value
    c["temperature"].value = 0.5
    c["prime"].value = "The"
    assert "The" + sampling.sample_text(params, vocab, 60, 4, 0.5, prime="The") in c["text"].value
    c["prime"].value = "Zz"
    shown = html.unescape(c["text"].value)
    assert "outside the model" in shown and "'Z', 'z'" in shown
    assert folder_digest(run_dir) == before


@pytest.mark.parametrize("field, value, line", [
    ("length", 0, "length must be from 1 to 20,000, got 0: nothing drawn"),
    ("length", -5, "length must be from 1 to 20,000, got -5: nothing drawn"),
    ("length", 200_000, "length must be from 1 to 20,000, got 200,000: nothing drawn"),
    ("seed", -1, "seed must be from 0 to 4,294,967,295, got -1: nothing drawn")])
def test_sampler_says_what_it_made_of_a_value_out_of_range(model, field, value, line):
    """Not moved to the nearest bound in silence (length 0 drew 1 character): the value stays as typed, the text
    box says why nothing is drawn, and a value in range draws again."""
    pytest.importorskip("ipywidgets")
    params, vocab, _ = model
    box = widget.sampler(params, vocab, length=60, seed=3)
    c = box.controls
    c[field].value = value
    assert c[field].value == value
    assert html.unescape(c["text"].value).split(">", 1)[1].rsplit("<", 1)[0] == line
    c[field].value = {"length": 40, "seed": 5}[field]
    assert sampling.sample_text(params, vocab, c["length"].value, c["seed"].value, 1.0) in c["text"].value


def test_widget_cell_headless_prints_one_line_and_leaves_no_widgets(run_dir, tmp_path, monkeypatch):
    monkeypatch.delenv(front_end.FORCE_ENV, raising=False)
    out_nb = tmp_path / "best_model.ipynb"
    ok(papermill(paths.REPO_ROOT / "notebooks" / "best_model.ipynb", out_nb, tmp_path,
                 ("run_dir", run_dir), ("out_dir", tmp_path), ("passage_len", 100), ("sweep_len", 40)))
    nb = json.loads(out_nb.read_text(encoding="utf-8"))
    last = nb["cells"][-1]
    assert last["cell_type"] == "code" and "widget.show" in "".join(last["source"])
    assert [o["output_type"] for o in last["outputs"]] == ["stream"]
    assert "".join(last["outputs"][0]["text"]).strip() == widget.HEADLESS_MESSAGE
    assert "widgets" not in nb["metadata"]  # nbclient would store widget state there
    assert "application/vnd.jupyter.widget" not in out_nb.read_text(encoding="utf-8")
    # The notebook's recorded passage is still written, by its own cell, and is the command's --seed 0.
    passage = json.loads((tmp_path / "passage.json").read_text(encoding="utf-8"))
    assert passage["passage_len"] == 100 and passage["seed"] == 0
    assert passage["passage"] == text_of(cli(run_dir, "-n", 100, "--seed", 0))


# ----------------------------------------------------- record-mode models (issue 17, case 4)

NAMES = ("anna", "bob", "carl", "dora", "emil", "fia", "gustav", "hedda", "ivar", "jon")


@pytest.fixture(scope="module")
def record_run(tmp_path_factory):
    """A tiny record-mode run on lines of names (max_record_len 40, 300 updates)."""
    out = tmp_path_factory.mktemp("records")
    names = out.parent / f"{out.name}.txt"
    rng = np.random.default_rng(5)
    names.write_text("\n".join(" ".join(rng.choice(NAMES, rng.integers(1, 5))) for _ in range(150)) + "\n",
                     encoding="utf-8")
    runner.execute(runner.plan(data_path=str(names), out_dir=str(out), records=True, max_record_len=40,
                                           m=16, max_steps=300, epochs=1, seq_length=10, synth_every=1000,
                                           checkpoint_every=1000), progress=None)
    params, vocab, meta = checkpoint.load_model(out / checkpoint.BEST_MODEL)
    assert record_sampling.is_record_model(meta) and meta["max_record_len"] == 40
    return {"dir": out, "params": params, "vocab": vocab, "meta": meta, "boundary": meta["boundary"]}


def expected_records(r, count, seed=0, **options):
    drawn = record_sampling.sample_records(r["params"], r["vocab"], r["boundary"], count, seed,
                                   options.pop("max_len", r["meta"]["max_record_len"]), **options)
    return "".join(record_files.visible(record, r["boundary"], r["vocab"]) + "\n" for record in drawn)


def test_a_record_model_prints_records_one_per_line(record_run):
    result = cli(record_run["dir"], "--count", 30)
    out = text_of(result)
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) == 31 and "\x1e" not in out
    assert all(len(line) <= 40 for line in lines)
    # The records the train notebook and the report draw: one generator seeded 0.
    assert out == expected_records(record_run, 30)
    assert "30 record(s) of at most 40 characters" in result.stderr.decode()
    # a sample's own words, not the stream's 1,000-character lines
    assert max(map(len, lines)) < 40 and len(set(lines)) > 10


def test_record_length_caps_each_record_and_the_prime_starts_it(record_run):
    capped = text_of(cli(record_run["dir"], "-k", 50, "--length", 6, "--seed", 3))
    assert capped == expected_records(record_run, 50, 3, max_len=6)
    assert max(map(len, capped.splitlines())) == 6
    primed = text_of(cli(record_run["dir"], "-k", 10, "--prime", "anna "))
    assert primed == expected_records(record_run, 10, prime="anna ")
    assert all(line.startswith("anna ") for line in primed.splitlines())
    assert text_of(cli(record_run["dir"], "-k", 3, "--argmax")) == expected_records(record_run, 3, argmax=True)
    assert "--prime" in bad(cli(record_run["dir"], "--prime", "anna" * 11))  # longer than a record
    assert "--length" in bad(cli(record_run["dir"], "--length", 0))


def test_help_says_what_length_and_count_mean_for_a_record_model():
    text = " ".join(cli("--help").stdout.decode().split())
    assert "for a record model, the most characters a record may have" in text
    assert "for a record model, K records, one per line" in text


def test_best_model_notebook_and_sampler_draw_records(record_run, tmp_path):
    pytest.importorskip("ipywidgets")
    ok(papermill(paths.REPO_ROOT / "notebooks" / "best_model.ipynb", tmp_path / "b.ipynb", tmp_path,
                 ("run_dir", record_run["dir"]), ("out_dir", tmp_path), ("n_records", 12),
                 ("temperatures", 0.8)))
    passage = json.loads((tmp_path / "passage.json").read_text(encoding="utf-8"))
    assert passage["passage"] + "\n" == expected_records(record_run, 12)
    assert passage["sweep"][0]["text"] + "\n" == expected_records(record_run, 12, temperature=0.8)
    shown = json.loads((tmp_path / "b.ipynb").read_text(encoding="utf-8"))
    printed = "".join("".join(o.get("text", "")) for c in shown["cells"] for o in c.get("outputs", []))
    assert passage["passage"] in printed and "\x1e" not in printed
    box = widget.sampler(record_run["params"], record_run["vocab"], meta=record_run["meta"], seed=2, count=7)
    assert box.controls["length"].description == "records"
    assert html.unescape(box.controls["text"].value).split(">", 1)[1].rsplit("<", 1)[0] + "\n" == \
        expected_records(record_run, 7, seed=2)


# ----------------------------------------------------- model files that would sample garbage (cases 7, 10)

def model_copy(run_dir, tmp_path, change_arrays=None, change_meta=None):
    """A copy of the run's best.npz with its arrays and metadata changed; returns its path."""
    arrays, meta = checkpoint.load(run_dir / checkpoint.BEST_MODEL)
    if change_arrays:
        change_arrays(arrays)
    if change_meta:
        change_meta(meta)
    path = tmp_path / "changed.npz"
    checkpoint.save(path, arrays, meta)
    return path


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_parameters_are_refused(run_dir, tmp_path, value):
    def spoil(arrays):
        arrays["W"] = arrays["W"].copy()
        arrays["W"][1, 2] = value

    path = model_copy(run_dir, tmp_path, spoil)
    line = bad(cli(path))
    assert line == f"charrnn-sample: error: not a usable model: {path} has non-finite parameters (nan or inf in W)"


def test_parameters_too_large_to_compute_with_are_refused(run_dir, tmp_path):
    def inflate(arrays):
        arrays["V"] = arrays["V"] * 1e300

    line = bad(cli(model_copy(run_dir, tmp_path, inflate)))
    assert "not a usable model" in line and "too large" in line


def test_best_model_notebook_refuses_a_model_with_nan(run_dir, tmp_path):
    import shutil

    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    arrays, meta = checkpoint.load(folder / "best.npz")
    arrays["b"] = np.full_like(arrays["b"], np.nan)
    checkpoint.save(folder / "best.npz", arrays, meta)
    result = papermill(paths.REPO_ROOT / "notebooks" / "best_model.ipynb", tmp_path / "b.ipynb", tmp_path,
                       ("run_dir", folder), ("out_dir", tmp_path / "out"))
    assert result.returncode != 0
    assert f"not a usable model: {folder / 'best.npz'} has non-finite parameters" in result.stderr
    assert not (tmp_path / "out").exists()


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


@pytest.mark.parametrize("arrays, meta, reason", [
    (None, _set("vocab", 5), "its vocab is a number, expected a non-empty string"),
    (None, _set("vocab", ["a", "b"]), "its vocab is an array, expected a non-empty string"),
    (None, _set("vocab", ""), "its vocab is a string, expected a non-empty string"),
    (None, _set("vocab", "aab"), "its vocab repeats characters"),
    (None, lambda m: m.pop("vocab"), "metadata lacks 'vocab'"),
    (None, _set("kind", 3), "its kind is 3, not 'model' or 'checkpoint'"),
    (None, _set("step", "ten"), "its step is 'ten', expected a non-negative integer"),
    (None, _set("records", True), "records: true, but its boundary None is not one character of its vocab"),
    (_set("W", np.array(["0.1"] * 256).reshape(16, 16)), None, "parameter W is stored as strings, not real numbers"),
    (_set("c", np.zeros(3)), None, "c has shape (3,), expected"),
    (_set("W", np.array(0.5)), None, "W has shape (), expected (m, m)"),
    (lambda a: a.pop("U"), None, "array 'U' missing"),
])
def test_wrong_metadata_or_arrays_are_not_a_model_file(run_dir, tmp_path, arrays, meta, reason):
    path = model_copy(run_dir, tmp_path, arrays, meta)
    line = bad(cli(path))
    assert line.startswith(f"charrnn-sample: error: not a model file: {path} (") and reason in line


# ----------------------------------------------------- prime files (case 8)

@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero on this system")
def test_prime_file_that_is_a_device_is_refused_before_reading(run_dir):
    line = bad(cli(run_dir, "--prime-file", "/dev/zero"))
    assert "/dev/zero" in line and "not a file" in line
    assert bad(cli("/dev/zero")) == "charrnn-sample: error: not a model file: /dev/zero (not a regular file: a " \
                                    "folder, device or pipe)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_prime_file_that_is_a_fifo_is_refused_without_waiting(run_dir, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    line = bad(subprocess.run([sys.executable, "-m", "lib.sample", str(run_dir), "--prime-file", str(fifo)],
                              capture_output=True, timeout=30, cwd=paths.REPO_ROOT))
    assert str(fifo) in line and "not a file" in line


def test_a_prime_longer_than_the_cap_is_refused_naming_the_file_and_the_cap(run_dir, tmp_path):
    huge = tmp_path / "huge.txt"
    huge.write_text("the cat " * (sampling.MAX_PRIME_CHARS // 8 + 1), encoding="utf-8")
    line = bad(cli(run_dir, "--prime-file", huge))
    assert str(huge) in line and f"more than {sampling.MAX_PRIME_CHARS:,} characters" in line
    if sys.platform != "win32":  # (NTFS writes the zeros out)
        # a file of many more bytes than memory holds is not read whole
        endless = tmp_path / "big.txt"
        with open(endless, "wb") as f:
            f.truncate(2**36)  # 64 GB, sparse
        assert f"more than {sampling.MAX_PRIME_CHARS:,} characters" in bad(cli(run_dir, "--prime-file", endless))


# ----------------------------------------------------- writes that fail (case 9)

@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_stdout_on_a_full_disk_is_one_line(run_dir):
    with open("/dev/full", "wb") as full:
        result = subprocess.run([sys.executable, "-m", "lib.sample", str(run_dir), "-n", "200000"],
                                stdout=full, stderr=subprocess.PIPE, timeout=120, cwd=paths.REPO_ROOT)
    err = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in err and "Exception ignored" not in err, err
    assert err.splitlines()[-1] == "charrnn-sample: error: could not write to stdout: No space left on device"


def _file_size_limit(limit):
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_out_that_cannot_be_written_whole_leaves_no_file_and_the_old_one_intact(run_dir, tmp_path):
    target = tmp_path / "sample.txt"
    target.write_text("an earlier sample\n", encoding="utf-8")
    # Writes past 64 kB fail (EFBIG, as a full disk fails with ENOSPC): the text would be 200 kB.
    result = subprocess.run([sys.executable, "-m", "lib.sample", str(run_dir), "-n", "200000", "--out", str(target)],
                            capture_output=True, timeout=120, cwd=paths.REPO_ROOT, preexec_fn=_file_size_limit(65536))
    err = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith(f"charrnn-sample: error: --out: could not write {target}: ")
    assert target.read_text(encoding="utf-8") == "an earlier sample\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.txt"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_out_that_is_not_a_regular_file_or_is_the_model_is_refused(run_dir, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert "not a regular file" in bad(cli(run_dir, "--out", fifo))
    assert fifo.exists() and not fifo.is_file()
    before = folder_digest(run_dir)
    assert "is the file being read" in bad(cli(run_dir, "--out", run_dir / "best.npz"))
    assert folder_digest(run_dir) == before


# ----------------------------------------------------- runs in progress (case 11)

def test_a_run_before_its_first_checkpoint_is_named_as_such(tmp_path):
    folder = tmp_path / "run"
    claim = run_folder.claim(folder)   # this process trains there, as far as the command can tell
    try:
        run_folder.write_status(folder, "running", step=0, planned_steps=300)
        line = bad(cli(folder))
        assert "is a run folder still training (at step 0 of 300) with no best.npz yet" in line
    finally:
        claim.release()
    line = bad(cli(folder))
    assert "interrupted (at step 0 of 300) before its first checkpoint" in line and "train.ipynb again" in line


def test_sampling_an_unfinished_run_says_so_on_stderr(run_dir, tmp_path, model):
    import shutil

    params, vocab, _ = model
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    run_folder.write_status(folder, "running", step=200, planned_steps=300)
    result = cli(folder, "-n", 100)
    assert text_of(result) == sampling.sample_text(params, vocab, 100, 0)
    note = result.stderr.decode().splitlines()[1]
    assert note == f"charrnn-sample: note: {folder} is an unfinished run, interrupted at step 200 of 300: this is " \
                   f"its best.npz from then"
    claim = run_folder.claim(folder)
    try:
        assert "is still training (at step 200 of 300)" in cli(folder, "-n", 1).stderr.decode()
    finally:
        claim.release()
    assert len(cli(run_dir, "-n", 1).stderr.decode().splitlines()) == 1  # a finished run: no note


# ----------------------------------------------------- the sampler's look (case 20)

def test_sampler_label_is_whole_and_text_wraps_between_words(model):
    pytest.importorskip("ipywidgets")
    params, vocab, _ = model
    box = widget.sampler(params, vocab, length=50)
    assert box.controls["temperature"].style.description_width == widget.LABEL_STYLE["description_width"]
    style = box.controls["text"].value.split("style='", 1)[1].split("'", 1)[0]
    assert "white-space: pre-wrap" in style and "word-break: normal" in style and "overflow-wrap: break-word" in style
