"""The gated networks through the rest of the project: the model interface (lib/network.py), training,
model files, the sampling command and the notebooks that read a run, for an LSTM and a GRU as for the
course's cell. (The cells' own maths: tests/test_cells.py.)"""

import json
import re

import numpy as np
import pytest
from nbrun import ok, papermill
from test_sample import bad, cli, text_of
from toy_corpus import learnable_text

from lib import checks, network, paths
from lib.inside import analysis
from lib.sample import sampling
from lib.training import checkpoint, run_files, runner, train

NOTEBOOKS = paths.REPO_ROOT / "notebooks"
GATED = [dict(cell="lstm", layers=2, dropout=0.2), dict(cell="gru", layers=1, dtype="float32", batch_size=2)]


@pytest.fixture(scope="module", params=GATED, ids=["lstm", "gru"])
def gated_run(request, tmp_path_factory):
    """A tiny gated run through runner (as train.ipynb trains it): 200 updates of m=12."""
    out = tmp_path_factory.mktemp(request.param["cell"])
    text_file = out.parent / f"{out.name}.txt"
    text_file.write_text(learnable_text(), encoding="utf-8")
    runner.execute(runner.plan(data_path=str(text_file), out_dir=str(out), m=12, max_steps=200, epochs=10, log_every=20,
                               synth_every=100, checkpoint_every=1000, val_fraction=0.1, eval_every=100,
                               protocol="2026", **request.param), progress=None)
    return out, request.param


def test_a_model_file_records_its_network_and_loads_as_it(gated_run):
    out, settings = gated_run
    params, vocab, meta = checkpoint.load_model(out / checkpoint.BEST_MODEL)
    assert meta["network"] == {"cell": settings["cell"], "layers": settings["layers"], "K": len(vocab), "m": 12,
                               "dtype": settings.get("dtype", "float64")}
    assert network.cell_of(params) == settings["cell"] and network.layers_of(params) == settings["layers"]
    assert list(params) == list(network.param_shapes(settings["cell"], len(vocab), 12, settings["layers"]))
    summary = run_files.read_summary(out)
    assert summary["cell"] == settings["cell"] and summary["layers"] == settings["layers"]
    assert summary["best_smooth_loss"] <= summary["final_smooth_loss"]
    history = run_files.read_history(out)
    assert history["smooth_loss"][-1] < history["smooth_loss"][0]   # it learns
    assert summary["parameters"] == network.param_count(params) and summary["cpu_seconds"] > 0
    # Its held-out tail read beside the n-grams fitted on the same training text.
    against = summary["against_ngrams"]
    assert against["chars"] == summary["n_chars"] - summary["n_train"] and against["text"].startswith("the last")
    assert [e["n"] for e in against["ngram"]["orders"]] == list(range(1, 9))
    assert against["ngram"]["best"] == min(against["ngram"]["orders"], key=lambda e: e["bits_per_char"])
    # (read again in float64 from the file: a float32 run's own reading agrees to float32's precision)
    assert against["best_bpc"] == pytest.approx(history_bpc_of_best(out, summary),
                                                rel=1e-12 if summary["dtype"] == "float64" else 1e-6)


def history_bpc_of_best(out, summary):
    """The best model's held-out bits per character, read again from best.npz."""
    params, vocab, _ = checkpoint.load_model(out / checkpoint.BEST_MODEL)
    text = open(summary["data_path"], encoding="utf-8").read()
    from lib.text import corpus
    return network.bits_per_char(params, corpus.encode(text[summary["n_train"]:], vocab))


def test_the_sampling_command_samples_a_gated_model_as_the_notebooks_do(gated_run):
    out, _ = gated_run
    first = text_of(cli(out, "--length", 300, "--seed", 3, "-t", 0.8))
    again = text_of(cli(out / checkpoint.BEST_MODEL, "--length", 300, "--seed", 3, "-t", 0.8))
    params, vocab, _ = checkpoint.load_model(out / checkpoint.BEST_MODEL)
    assert first == again == sampling.sample_text(params, vocab, 300, 3, temperature=0.8)
    assert len(first) == 300 and set(first) <= set(vocab)
    last = text_of(cli(out, "--which", "last", "--length", 300, "--seed", 3, "-t", 0.8))
    last_params, _, _ = checkpoint.load_model(out / checkpoint.LAST_CHECKPOINT)
    assert last == sampling.sample_text(last_params, vocab, 300, 3, temperature=0.8)
    primed = text_of(cli(out, "--length", 50, "--seed", 1, "--prime", "the ", "--top-p", 0.9))
    assert primed.startswith("the ") and len(primed) == 4 + 50


def test_blocks_join_to_the_whole_draw_for_a_gated_network(gated_run):
    out, _ = gated_run
    params, vocab, _ = checkpoint.load_model(out / checkpoint.BEST_MODEL)
    state = network.init_state(params)
    whole = network.synthesize(params, state, 0, 1000, np.random.default_rng(5), 0.7, np.array([1, 2, 3]))
    blocks = list(network.synthesize_blocks(params, state, 0, 1000, np.random.default_rng(5), 0.7,
                                            np.array([1, 2, 3]), block=300))
    assert [len(b) for b in blocks] == [300, 300, 300, 100]
    assert np.concatenate(blocks).tolist() == whole.tolist()


def test_bits_per_char_does_not_depend_on_the_pieces_it_is_read_in(gated_run):
    out, _ = gated_run
    params, vocab, _ = checkpoint.load_model(out / checkpoint.BEST_MODEL)
    data = np.random.default_rng(0).integers(0, len(vocab), 700)
    whole = network.bits_per_char(params, data, chunk=10_000)
    assert network.bits_per_char(params, data, chunk=64) == pytest.approx(whole, rel=1e-12)
    assert 0 < whole < 2 * np.log2(len(vocab))


def test_best_model_notebook_on_a_gated_run(gated_run, tmp_path):
    out, _ = gated_run
    ok(papermill(NOTEBOOKS / "best_model.ipynb", tmp_path / "best.ipynb", paths.REPO_ROOT, ("run_dir", out),
                 ("passage_len", 120), ("sweep_len", 30), ("measure_draws", 1), ("measure_len", 200)))
    passage = run_files.read_json(out / "passage.json")
    params, vocab, _ = checkpoint.load_model(out / checkpoint.BEST_MODEL)
    assert len(passage["passage"]) == 120 and set(passage["passage"]) <= set(vocab)


def test_text_evolution_notebook_on_a_gated_run(gated_run, tmp_path):
    out, _ = gated_run
    ok(papermill(NOTEBOOKS / "text_evolution.ipynb", tmp_path / "evo.ipynb", paths.REPO_ROOT, ("run_dir", out),
                 ("every", 100), ("up_to", 200)))
    evolution = run_files.read_json(out / "evolution.json")
    assert [s["step"] for s in evolution["samples"]] == [0, 100, 200]


def test_inside_notebook_on_a_gated_run_says_which_analyses_are_the_vanilla_cells(gated_run, tmp_path):
    out, settings = gated_run
    look = tmp_path / "inside"
    ok(papermill(NOTEBOOKS / "inside.ipynb", tmp_path / "inside.ipynb", paths.REPO_ROOT, ("run_dir", out),
                 ("chars", 1000), ("ngram_max", 3), ("out_dir", look)))
    data = analysis.read(look)
    assert data["network"]["cell"] == settings["cell"] and data["gradient_reach"] is None
    assert data["singular_values"] is None and 0 < data["rnn_bits_per_char"] < 8
    assert sorted(p.name for p in look.glob("inside_*.png")) == [
        "inside_certainty.png", "inside_guesses.png", "inside_heatmap.png", "inside_units.png"]
    executed = json.loads((tmp_path / "inside.ipynb").read_text(encoding="utf-8"))
    shown = "".join("".join(o.get("data", {}).get("text/markdown", "")) for c in executed["cells"]
                    for o in c.get("outputs", []))
    assert analysis.VANILLA_ONLY in shown
    # The forward pass read step by step is the one the cell's own loss computes.
    params, vocab, _ = checkpoint.load_model(out / checkpoint.BEST_MODEL)
    x = np.random.default_rng(1).integers(0, len(vocab), 60)
    _, P = analysis.forward(params, x)
    cell = network.module(settings["cell"])
    reading = cell.loss(params, x[None, :-1], x[None, 1:], cell.init_state(params, 1))[0]
    assert -np.log(P[np.arange(59), x[1:]]).sum() == pytest.approx(reading, rel=1e-10)


# ------------------------------------------------------------ files of before, files that disagree

@pytest.fixture(scope="module")
def vanilla_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rnn")
    text_file = out.parent / f"{out.name}.txt"
    text_file.write_text(learnable_text(), encoding="utf-8")
    runner.execute(runner.plan(data_path=str(text_file), out_dir=str(out), m=8, max_steps=100, epochs=1,
                               synth_every=1000, checkpoint_every=1000), progress=None)
    return out


def test_a_model_file_written_before_networks_were_recorded_still_samples(vanilla_run, tmp_path):
    arrays, meta = checkpoint.load(vanilla_run / checkpoint.BEST_MODEL)
    assert meta.pop("network") == {"cell": "rnn", "layers": 1, "K": arrays["V"].shape[0], "m": 8,
                                   "dtype": "float64"}
    old = tmp_path / "old.npz"
    checkpoint.save(old, arrays, meta)   # as the files of before were written: no "network"
    assert text_of(cli(old, "--length", 200, "--seed", 2)) == \
        text_of(cli(vanilla_run / checkpoint.BEST_MODEL, "--length", 200, "--seed", 2))


def test_a_model_file_whose_network_disagrees_with_its_arrays_is_refused(gated_run, tmp_path):
    out, settings = gated_run
    arrays, meta = checkpoint.load(out / checkpoint.BEST_MODEL)
    other = "gru" if settings["cell"] == "lstm" else "lstm"
    meta["network"] = dict(meta["network"], cell=other)
    path = tmp_path / "liar.npz"
    checkpoint.save(path, arrays, meta)
    line = bad(cli(path))
    assert f"not a model file: {path} (" in line
    meta["network"] = dict(meta["network"], cell="transformer")
    checkpoint.save(path, arrays, meta)
    assert "its network is" in bad(cli(path))


# ------------------------------------------------------------ bad settings, one line each

@pytest.mark.parametrize("given, named", [
    (dict(cell="transformer"), "cell"), (dict(layers=0), "layers"), (dict(cell="lstm", dtype="float16"), "dtype"),
    (dict(cell="gru", dropout=1), "dropout"), (dict(cell="lstm", dropout=-0.1), "dropout"),
    (dict(layers=2), "layers=2"), (dict(dropout=0.3), "dropout=0.3"),
])
def test_a_bad_network_setting_is_one_line_naming_it(tmp_path, given, named):
    text_file = tmp_path / "toy.txt"
    text_file.write_text(learnable_text(), encoding="utf-8")
    with pytest.raises(checks.ParameterError) as caught:
        runner.plan(data_path=str(text_file), out_dir=str(tmp_path / "run"), **given)
    message = str(caught.value)
    assert named in message and "\n" not in message
    assert not (tmp_path / "run").exists()
    with pytest.raises(train.ConfigError, match=named.split("=")[0]):
        train.train(learnable_text(), **given)


def test_a_gated_run_continues_bitwise_and_its_checkpoint_holds_its_state(tmp_path, assert_same_training_run):
    settings = dict(cell="lstm", layers=2, dropout=0.3, m=10, batch_size=3, protocol="2026", seed=1,
                    synth_every=40, log_every=5, checkpoint_every=15, val_fraction=0.1, eval_every=20)
    text = learnable_text()
    whole = train.train(text, tmp_path / "whole", max_steps=90, **settings)
    train.train(text, tmp_path / "parts", max_steps=45, **settings)
    rest = train.train(text, tmp_path / "parts", max_steps=90, resume=True, **settings)
    assert_same_training_run(whole, rest)
    assert np.shape(rest["h_prev"]) == (4, 3, 10)   # (h, c) of two layers, three streams
    # Dropout draws another mask each update: another seed of the masks alone gives another run.
    other = train.train(text, None, max_steps=90, **dict(settings, dropout=0.31))
    assert other["params"]["V"].tobytes() != whole["params"]["V"].tobytes()


@pytest.mark.parametrize("batch_size, fast", [(1, True), (8, True), (8, False)])
def test_the_course_cell_trains_in_float32_close_to_float64(batch_size, fast):
    """dtype="float32" for the vanilla cell too: every array of the run in float32, its losses those of the
    float64 run to float32's precision over the first updates."""
    settings = dict(m=16, max_steps=40, batch_size=batch_size, fast=fast, protocol="2026", log_every=1,
                    synth_every=1000)
    single = train.train(learnable_text(), dtype="float32", **settings)
    double = train.train(learnable_text(), **settings)
    assert all(np.asarray(v).dtype == np.float32 for v in single["params"].values())
    assert np.asarray(single["h_prev"]).dtype == np.float32
    assert all(v.dtype == np.float32 for arrays in single["optimizer"]["arrays"].values() for v in arrays.values())
    assert single["history"]["loss"][:10] == pytest.approx(double["history"]["loss"][:10], rel=1e-4)
    assert single["history"]["loss"] != double["history"]["loss"]


# ------------------------------------------------------------ make report's gated stage

@pytest.mark.parametrize("protocol, other", [("2021", "2026"), ("2026", "2021")])
def test_make_report_trains_the_gated_runs_once_for_both_protocols(tmp_path, protocol, other):
    """The gated recipe's LSTM and GRU and the other handout's course run live in one folder shared by both
    protocols' reports; the report's section reads the course run of its own handout from its seed runs."""
    import subprocess
    gated = tmp_path / "gated"
    done = subprocess.run(["make", "--no-print-directory", "-n", "-C", str(paths.REPO_ROOT), "report",
                           f"RUNS={tmp_path / 'own'}", f"GATED_RUNS={gated}", f"PROTOCOL={protocol}"],
                          capture_output=True, text=True, check=True)
    stages = [line for line in done.stdout.splitlines() if "lib.jupyter.stage" in line and str(gated) in line]
    for cell in ("lstm", "gru"):
        assert any(f"{gated}/{cell}/train.ipynb" in line and "-p protocol gated" in line and f"-p cell {cell} " in line
                   for line in stages), (cell, stages)
    assert any(f"{gated}/rnn-{other}/train.ipynb" in line and f"-p protocol {other} " in line for line in stages)
    assert not any(f"rnn-{protocol}" in line for line in stages)
    # The LSTM is given GATED_LSTM_M units (about the GRU's CPU time); the GRU keeps the recipe's m.
    lstm_m = re.search(r"^GATED_LSTM_M \?= (\d+)$", (paths.REPO_ROOT / "Makefile").read_text(encoding="utf-8"), re.M)[1]
    assert any(f"{gated}/lstm/train.ipynb" in line and f"-p m {lstm_m} " in line for line in stages)
    assert not any(f"{gated}/gru/train.ipynb" in line and "-p m " in line for line in stages)
    build = next(line for line in done.stdout.splitlines() if "report/build.py" in line)
    own = f"{tmp_path / 'own'}/seed0/train_10ep"
    section = [own if protocol == "2021" else f"{gated}/rnn-2021", own if protocol == "2026" else f"{gated}/rnn-2026",
               f"{gated}/gru", f"{gated}/lstm"]
    assert f"--gated {' '.join(section)} " in build
