"""Every notebook executed through papermill with tiny settings, checked by what it wrote."""

import json
import math
import os

import pytest
from nbrun import ok, papermill
from toy_corpus import learnable_text as make_learnable_text

from lib import gradcheck, paths
from lib.training import checkpoint, run_files

NOTEBOOKS = paths.REPO_ROOT / "notebooks"
STEPS = 300


@pytest.fixture(scope="module")
def learnable_text():
    return make_learnable_text()


@pytest.fixture(scope="module")
def chain(tmp_path_factory, learnable_text):
    """Train (typed from inside notebooks/ with paths relative to there), then evolution and best model."""
    work = tmp_path_factory.mktemp("chain")
    corpus_file = work / "toy.txt"
    corpus_file.write_text(learnable_text, encoding="utf-8")
    run = work / "run"
    # The form users type inside notebooks/: relative output and relative parameters.
    def rel(path):
        return os.path.relpath(path, NOTEBOOKS)

    ok(papermill("train.ipynb", rel(work / "train_out.ipynb"), NOTEBOOKS,
                 ("data_path", rel(corpus_file)), ("out_dir", rel(run)), ("m", 5), ("epochs", 3),
                 ("max_steps", STEPS), ("log_every", 10), ("synth_every", 50), ("synth_len", 40),
                 ("checkpoint_every", 100), ("val_fraction", 0.1), ("eval_every", 50)))
    ok(papermill(NOTEBOOKS / "text_evolution.ipynb", work / "evo_out.ipynb", paths.REPO_ROOT,
                 ("run_dir", run), ("every", 100), ("up_to", 1000)))
    ok(papermill(NOTEBOOKS / "best_model.ipynb", work / "best_out.ipynb", paths.REPO_ROOT,
                 ("run_dir", run), ("passage_len", 120), ("sweep_len", 30)))
    return {"work": work, "run": run, "corpus": corpus_file, "text": learnable_text}


def test_train_writes_summary_with_contract_keys(chain):
    summary = run_files.read_summary(chain["run"])
    for key in run_files.SUMMARY_KEYS:
        assert key in summary
    assert summary["steps"] == STEPS
    assert summary["m"] == 5 and summary["eta"] == 0.1 and summary["seq_length"] == 25
    assert summary["n_chars"] == len(chain["text"])
    assert summary["K"] == len(set(chain["text"]))
    assert 0 < summary["best_step"] <= STEPS
    assert summary["best_smooth_loss"] <= summary["final_smooth_loss"]
    assert summary["us_per_step"] > 0 and summary["wall_seconds"] > 0
    assert summary["data_path"] == str(chain["corpus"].resolve())


def test_train_history_and_loss_falls(chain):
    history = run_files.read_history(chain["run"])
    assert history["step"] == list(range(10, STEPS + 1, 10))
    smooth = history["smooth_loss"]
    assert smooth[-1] < 0.9 * smooth[0], "smooth loss did not fall on a learnable text"
    val = {s: v for s, v in zip(history["step"], history["val_bpc"]) if not math.isnan(v)}
    assert sorted(val) == list(range(50, STEPS + 1, 50))
    assert all(0 < v < math.log2(len(set(chain["text"]))) + 1 for v in val.values())


def test_train_samples_at_requested_steps(chain):
    samples = run_files.read_samples(chain["run"])
    # Every synth_every updates before one, then the final model's after the last update.
    assert [s["step"] for s in samples] == list(range(0, STEPS, 50)) + [STEPS]
    assert samples[-1]["smooth_loss"] == run_files.read_summary(chain["run"])["final_smooth_loss"]
    assert samples[0]["smooth_loss"] is None
    assert all(len(s["text"]) == 40 for s in samples)
    assert set("".join(s["text"] for s in samples)) <= set(chain["text"])


def test_train_writes_checkpoints_and_figures(chain):
    for name in ("best.npz", "last.npz", "loss.png", "loss.pdf"):
        assert (chain["run"] / name).stat().st_size > 0, name
    params, vocab, meta = checkpoint.load_model(chain["run"] / "best.npz")
    assert meta["step"] == run_files.read_summary(chain["run"])["best_step"]
    assert params["W"].shape == (5, 5)


def test_text_evolution_picks_every_interval(chain):
    evolution = run_files.read_json(chain["run"] / "evolution.json")
    assert [s["step"] for s in evolution["samples"]] == [0, 100, 200, 300]  # 300: the final model's
    by_step = {s["step"]: s for s in run_files.read_samples(chain["run"])}
    for s in evolution["samples"]:
        assert s == by_step[s["step"]]


def test_best_model_passage_and_sweep(chain):
    passage = run_files.read_json(chain["run"] / "passage.json")
    summary = run_files.read_summary(chain["run"])
    assert passage["best_step"] == summary["best_step"]
    assert passage["best_smooth_loss"] == summary["best_smooth_loss"]
    assert len(passage["passage"]) == 120
    assert [e["temperature"] for e in passage["sweep"]] == [0.5, 0.8, 1.0]
    assert all(len(e["text"]) == 30 for e in passage["sweep"])
    assert [e["top_p"] for e in passage["top_p_sweep"]] == passage["top_ps"] == [0.3, 0.6, 0.9]
    assert all(len(e["text"]) == 30 for e in passage["top_p_sweep"])


def test_gradient_check_notebook_from_repo_root(tmp_path, learnable_text):
    corpus_file = tmp_path / "toy.txt"
    corpus_file.write_text(learnable_text, encoding="utf-8")
    ok(papermill("notebooks/gradient_check.ipynb", tmp_path / "gc.ipynb", paths.REPO_ROOT,
                 ("data_path", corpus_file), ("out_dir", tmp_path / "gc"), ("cell_m", 3),
                 yaml="m_values: [3, 6]\ncell_layers: [1, 2]"))
    results = json.loads((tmp_path / "gc" / "gradcheck.json").read_text())
    assert sorted(results) == ["mean", "sum"]
    oracles = ["central", "complex", "fast"] + (["torch"] if gradcheck.torch_available() else [])
    for by_m in results.values():
        assert sorted(by_m) == ["3", "6"]
        for table in by_m.values():
            assert sorted(table) == sorted(["b", "c", "U", "W", "V"])
            for row in table.values():
                assert sorted(row) == sorted(f"{k}_{w}_rel" for k in oracles for w in ("max", "norm"))
                assert row["complex_max_rel"] < 1e-10 and row["central_norm_rel"] < 1e-6
                assert row["fast_max_rel"] < 1e-10 and row.get("torch_max_rel", 0) < 1e-10
    executed = json.loads((tmp_path / "gc.ipynb").read_text())
    shown = "".join("".join(o.get("data", {}).get("text/markdown", ""))
                    for c in executed["cells"] for o in c.get("outputs", []))
    assert "| mean | 6 | W |" in shown
    # The gated cells, each with one and two layers, one stream (sum) and a batch (mean).
    gated = json.loads((tmp_path / "gc" / "gradcheck_cells.json").read_text(encoding="utf-8"))
    assert gated["m"] == 3 and gated["streams"] == 3
    assert {cell: sorted(by_layers) for cell, by_layers in gated["results"].items()} == {"lstm": ["1", "2"],
                                                                                          "gru": ["1", "2"]}
    for cell, by_layers in gated["results"].items():
        for layers, by_loss in by_layers.items():
            assert sorted(by_loss) == ["mean", "sum"]
            for table in by_loss.values():
                assert {name for name in table if name.startswith("W")} == {f"W{k}" for k in range(1, int(layers) + 1)}
                for row in table.values():
                    assert row["complex_max_rel"] < 1e-10 and row["central_norm_rel"] < 1e-6
                    assert row.get("torch_max_rel", 0) < 1e-10
                    assert ("torch_max_rel" in row) == gradcheck.torch_available()
    assert "| GRU of 2 layers, a batch | mean | bn2 |" in shown


def test_missing_data_file_is_a_clear_error(tmp_path):
    result = papermill(NOTEBOOKS / "train.ipynb", tmp_path / "x.ipynb", tmp_path,
                       ("data_path", "no_such_book.txt"), ("out_dir", tmp_path / "run"))
    assert result.returncode != 0
    assert f"data file not found: {tmp_path / 'no_such_book.txt'}" in result.stderr
    assert not (tmp_path / "run").exists()


def test_defaults_are_anchored_at_the_repo_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.user_path(None, paths.RUNS_DIR / "x") == paths.REPO_ROOT / "runs" / "x"
    assert paths.user_path("mine.txt", None) == tmp_path / "mine.txt"


def test_failed_gradient_check_writes_no_result(tmp_path, learnable_text):
    corpus_file = tmp_path / "toy.txt"
    corpus_file.write_text(learnable_text, encoding="utf-8")
    # A huge central-difference step makes the numerical gradients wrong: the check must fail.
    result = papermill(NOTEBOOKS / "gradient_check.ipynb", tmp_path / "gc.ipynb", tmp_path,
                       ("data_path", corpus_file), ("out_dir", tmp_path / "gc"), ("h", 0.5),
                       yaml="m_values: [3]")
    assert result.returncode != 0 and "gradient check failed" in result.stderr
    assert not (tmp_path / "gc" / "gradcheck.json").exists()


def test_run_files_are_readable_by_others(chain):
    for name in ("summary.json", "history.csv", "samples.jsonl", "best.npz", "last.npz"):
        mode = (chain["run"] / name).stat().st_mode & 0o777
        assert mode & 0o044 == 0o044, f"{name} has mode {oct(mode)}"
