"""notebooks/inside.ipynb and lib/inside/analysis.py: each number against an independent computation."""

import subprocess
import sys

import numpy as np
import pytest
from nbrun import ok, papermill, stage_lines
from toy_corpus import learnable_text
from toy_run import run_lib

from lib import paths, rnn
from lib.inside import analysis, inside_figures, inside_report, ngram
from lib.text import corpus
from lib.training import checkpoint, run_folder, train

NOTEBOOKS = paths.REPO_ROOT / "notebooks"


# ----------------------------------------------------------- features, written out character by character
def loop_features(text):
    """The features of issue 18 with a plain loop over the text."""
    out = {name: [] for name in analysis.FEATURES}
    quotes = depth = since_newline = 0
    line_of, lines, current = [], [[]], 0
    for ch in text:                                   # which line each character is on (a newline ends its line)
        line_of.append(current)
        lines[current].append(ch)
        if ch == "\n":
            current += 1
            lines.append([])
    word_len = 0
    for t, ch in enumerate(text):
        quotes += ch == '"'
        depth = max(depth + (ch in "([") - (ch in ")]"), 0)
        since_newline = 0 if ch == "\n" else since_newline + 1
        starts = ch.isalpha() and (t == 0 or not text[t - 1].isalpha())
        word_len = 0 if starts else word_len + 1 if ch.isalpha() else 0
        letters = [c for c in lines[line_of[t]] if c.isalpha()]
        out["quote"].append(quotes % 2)
        out["bracket"].append(depth > 0)
        out["line_pos"].append(since_newline if "\n" in text[:t + 1] else t + 1)
        out["word_start"].append(starts)
        out["upper"].append(ch.isalpha() and ch.isupper())
        out["vowel"].append(ch.lower() in "aeiou")
        out["caps_line"].append(len(letters) >= 2 and all(c.isupper() for c in letters))
        out["space"].append(ch == " ")
        out["word_pos"].append(word_len)
    return {k: np.array(v, dtype=float) for k, v in out.items()}


SAMPLE = 'JULIET\nO Romeo, "Romeo"! (wherefore [art]) thou)) Romeo?\nDENY thy father ) and (refuse\nthy NAME.\n'


def test_features_equal_a_loop_over_the_characters():
    expected = loop_features(SAMPLE)
    got = analysis.features(SAMPLE)
    for name in analysis.FEATURES:
        np.testing.assert_array_equal(np.asarray(got[name], dtype=float), expected[name], err_msg=name)
    assert expected["bracket"].any() and expected["quote"].any() and expected["caps_line"].any()


def test_position_kinds_follow_their_rules_in_order():
    kinds = analysis.position_kinds(SAMPLE)
    for t, kind in enumerate(kinds):
        now, nxt = SAMPLE[t], SAMPLE[t + 1]
        want = ("after a newline" if now == "\n" else "after punctuation" if not now.isalpha() and now != " "
                else "start of a word" if now == " " and nxt.isalpha()
                else "inside a word" if now.isalpha() and nxt.isalpha()
                else "end of a word" if now.isalpha() else "other")
        assert analysis.KINDS[kind] == want, (t, now, nxt)


def test_correlations_equal_numpy_corrcoef():
    rng = np.random.default_rng(3)
    states = np.tanh(rng.standard_normal((400, 7)))
    states[:, 2] = 0.25                                # a constant unit counts r = 0
    feature = (rng.random(400) < 0.3) + 0.5 * states[:, 4]
    r = analysis.correlations(states, feature)
    for unit in range(7):
        expected = 0.0 if unit == 2 else np.corrcoef(states[:, unit], feature)[0, 1]
        assert abs(r[unit] - expected) < 1e-12
    assert analysis.best_unit(states, feature)[0] == 4
    assert not analysis.correlations(states, np.ones(400)).any()   # so does a constant feature


# ----------------------------------------------------------- the gradient reach against finite differences
def _log_p(params, x, h_start, start, t):
    """log p_t[x_{t+1}] when the state after character start - 1 is h_start (recurrence from start to t)."""
    h = h_start
    for s in range(start, t + 1):
        h = np.tanh(params["W"] @ h + params["U"][:, x[s]] + params["b"])
    o = params["V"] @ h + params["c"]
    return o[x[t + 1]] - np.log(np.exp(o - o.max()).sum()) - o.max()


def test_gradient_reach_equals_finite_differences():
    rng = np.random.default_rng(5)
    K, m = 6, 8
    params = rnn.init_params(K, m, sigma=0.6, rng=rng)
    params["b"] = 0.3 * rng.standard_normal(m)
    x = rng.integers(0, K, 40)
    H, P = rnn.forward(params, x, np.zeros(m))
    positions = np.array([12, 25, 37])
    reach = analysis.gradient_reach(params, x, H, P, positions, max_k=6)
    eps = 1e-6
    for k in range(7):
        norms = []
        for t in positions:
            h = H[t - k + 1].copy()                    # h_{t-k}
            grad = np.empty(m)
            for i in range(m):
                step = np.zeros(m)
                step[i] = eps
                grad[i] = (_log_p(params, x, h + step, t - k + 1, t) - _log_p(params, x, h - step, t - k + 1, t)) / (2 * eps)
            norms.append(np.linalg.norm(grad))
        assert abs(reach[k] - np.mean(norms)) < 1e-7 * max(1.0, np.mean(norms)), k


@pytest.mark.parametrize("protocol, sigma, init", [("2021", 0.01, "normal"), ("2026", None, "scaled")])
def test_initial_params_are_the_ones_training_starts_from(monkeypatch, english_text, protocol, sigma, init):
    drawn = []
    real = rnn.init_params
    monkeypatch.setattr(rnn, "init_params", lambda *a, **k: drawn.append(real(*a, **k)) or drawn[-1])
    state = train.train(english_text, protocol=protocol, m=7, seed=11, epochs=1, max_steps=1, synth_every=10_000,
                        log_every=1)
    assert (state["settings"]["sigma"], state["settings"]["init"]) == (sigma, init)
    again = analysis.initial_params(len(set(english_text)), 7, sigma, 11, init)
    for name in rnn.PARAM_NAMES:
        np.testing.assert_array_equal(again[name], drawn[0][name])


# ----------------------------------------------------------- the notebook on a tiny run
@pytest.fixture(scope="module")
def looked(tmp_path_factory):
    work = tmp_path_factory.mktemp("inside")
    text = learnable_text()
    text = text[:len(text) // 2] + "(the [cat]) sat\n" + text[len(text) // 2:]   # brackets in the training part
    corpus_file = work / "toy.txt"
    corpus_file.write_text(text, encoding="utf-8")
    run = work / "run"
    ok(papermill(NOTEBOOKS / "train.ipynb", work / "train.ipynb", work, ("data_path", corpus_file),
                 ("out_dir", run), ("m", 6), ("epochs", 1), ("max_steps", 200), ("val_fraction", 0.1),
                 ("eval_every", 100), ("synth_every", 100), ("synth_len", 20)))
    ok(papermill(NOTEBOOKS / "inside.ipynb", work / "inside.ipynb", work, ("run_dir", run), ("chars", 1000),
                 ("ngram_max", 4)))
    return {"work": work, "run": run, "text": text, "data": analysis.read(run)}


def test_inside_json_holds_the_interface(looked):
    data = looked["data"]
    assert data["chars"] == 1000 and [e["n"] for e in data["ngram"]] == [1, 2, 3, 4]
    assert [u["feature"] for u in data["units"]][:7] == list(analysis.FEATURES[:7])
    assert [e["k"] for e in data["gradient_reach"]] == list(range(analysis.MAX_K + 1))
    assert sum(e["positions"] for e in data["by_kind"]) == 999
    assert data["outliers"] == [] and data["seeds_compared"] == 0
    for stem, _ in inside_figures.FIGURES[:-1]:
        for ext in ("png", "pdf"):
            assert (looked["run"] / f"{stem}.{ext}").stat().st_size > 0
            assert f"{stem}.{ext}" in run_folder.DERIVED, "a retrained run must not keep the old figures"


def _passage(looked):
    data = looked["data"]
    n_train = corpus.split_train_val(len(looked["text"]), 0.1, 25)
    text = looked["text"][n_train:n_train + data["chars"]]
    assert train.text_sha256(text) == data["text_sha256"]
    params, vocab, _ = checkpoint.load_model(looked["run"] / "best.npz")
    return text, corpus.encode(text, vocab), params, vocab, looked["text"][:n_train]


def test_every_r_equals_corrcoef_of_the_states(looked):
    data = looked["data"]
    text, x, params, vocab, _ = _passage(looked)
    init = rnn.init_params(len(vocab), 6, 0.01, np.random.default_rng(np.random.SeedSequence(0).spawn(2)[0]))
    states = rnn.forward(params, x, np.zeros(6))[0][1:]
    states_init = rnn.forward(init, x, np.zeros(6))[0][1:]
    features = loop_features(text)
    shuffler = np.random.default_rng(analysis.SHUFFLE_SEED)

    def all_r(s, f):
        return [0.0 if np.ptp(s[:, u]) == 0 or np.ptp(f) == 0 else np.corrcoef(s[:, u], f)[0, 1] for u in range(6)]

    for u in data["units"]:
        f = features[u["feature"]]
        for key, s, feature in (("r", states, f), ("r_init", states_init, f),
                                ("r_shuffled", states, shuffler.permutation(f))):
            r = all_r(s, feature)
            assert abs(u[key] - max(r, key=abs)) < 1e-9, (u["feature"], key)
        assert abs(u["r"] - all_r(states, f)[u["unit"]]) < 1e-9
    assert any(abs(u["r"]) > 0.3 for u in data["units"])


def test_rnn_and_ngram_bits_equal_their_own_computations(looked):
    data = looked["data"]
    text, x, params, vocab, training = _passage(looked)
    assert abs(data["rnn_bits_per_char"] - train.bits_per_char(params, x)) < 1e-9
    model = ngram.KneserNey(corpus.encode(training, vocab), len(vocab), 4)
    for entry in data["ngram"]:
        assert abs(entry["bits_per_char"] - model.bits_per_char(x, entry["n"])) < 1e-12
    kinds = analysis.position_kinds(text)
    p = rnn.forward(params, x, np.zeros(6))[1][np.arange(len(x) - 1), x[1:]]
    for entry in data["by_kind"]:
        where = kinds == analysis.KINDS.index(entry["kind"])
        assert abs(entry["rnn"] - (-np.log2(p[where]).mean())) < 1e-9


# ----------------------------------------------------------- bad parameters end in one line, write nothing
def _stage(work, *params):
    cmd = [sys.executable, "-m", "lib.jupyter.stage", "--failures-dir", str(work / ".failed"),
           str(NOTEBOOKS / "inside.ipynb"), str(work / "bad" / "inside.ipynb")]
    for name, value in params:
        cmd += ["-p", name, str(value)]
    return subprocess.run(cmd, cwd=paths.REPO_ROOT, capture_output=True, text=True, timeout=300)


def test_bad_parameters_end_in_one_line(looked):
    work, run = looked["work"], looked["run"]
    unfinished = work / "unfinished"
    unfinished.mkdir()
    run_folder.write_status(unfinished, "running", step=50, planned_steps=200)
    foreign = work / "foreign.txt"
    foreign.write_text("the cat sat on the mat \u20ac\n" * 10, encoding="utf-8")
    cases = [
        ([("run_dir", unfinished)], "is an unfinished run, interrupted at step 50 of 200"),
        ([("run_dir", run), ("text_path", foreign), ("chars", 200), ("out_dir", work / "bad")],
         "has characters outside the vocabulary: '€'"),
        ([("run_dir", run), ("chars", 10 ** 7), ("out_dir", work / "bad")], "chars=10,000,000 is more than"),
        ([("run_dir", run), ("ngram_max", 0), ("out_dir", work / "bad")], "ngram_max must be a positive integer, got 0"),
    ]
    for params, message in cases:
        result = _stage(work, *params)
        assert result.returncode == 1
        lines = stage_lines(result.stderr)
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
        assert not (work / "bad" / analysis.FILE).exists() and not (unfinished / analysis.FILE).exists()


def test_text_path_reads_a_run_that_held_nothing_out(text_file, tmp_path):
    """The refusal of a run with no held-out text says "give text_path": given, it is read (issue 25, case 6)."""
    run = tmp_path / "run"
    run_lib(text_file, run, max_steps=120)                       # val_fraction 0: nothing held out
    other = tmp_path / "other.txt"
    other.write_text(learnable_text()[1000:], encoding="utf-8")  # a text of the run's characters and n-grams
    refused = _stage(tmp_path, ("run_dir", run), ("chars", 300), ("ngram_max", 2), ("out_dir", tmp_path / "bad"))
    assert refused.returncode == 1 and "give text_path" in refused.stderr, refused.stderr
    ok(papermill(NOTEBOOKS / "inside.ipynb", tmp_path / "inside.ipynb", tmp_path, ("run_dir", run),
                 ("text_path", other), ("chars", 300), ("ngram_max", 2)))
    data = analysis.read(run)
    assert data["text_name"] == "other.txt" and data["chars"] == 300
    assert data["text_sha256"] == train.text_sha256(learnable_text()[1000:1300])


def test_two_readings_are_the_model_read_from_its_first_and_second_character():
    rng = np.random.default_rng(8)
    params = rnn.init_params(5, 6, sigma=0.8, rng=rng)
    x = rng.integers(0, 5, 300)
    got = analysis.two_readings(params, x, shown=50)
    assert abs(got["bits_first"] - train.bits_per_char(params, x)) < 1e-12
    assert abs(got["bits_second"] - train.bits_per_char(params, x[1:])) < 1e-12
    first = rnn.forward(params, x, np.zeros(6))[0][2:].copy()     # after characters 1, 2, ...
    second = rnn.forward(params, x[1:], np.zeros(6))[0][1:].copy()
    np.testing.assert_allclose(got["gap"], np.linalg.norm(first[:50] - second[:50], axis=1), rtol=0, atol=1e-12)
    # The two axes are the leading eigenvectors of the states' covariance: projections uncorrelated,
    # their variances its two largest eigenvalues.
    both = np.vstack([first, second])
    eigen = np.sort(np.linalg.eigvalsh(np.cov(both.T, bias=True)))[::-1]
    assert abs(sum(got["explained"]) - eigen[:2].sum() / eigen.sum()) < 1e-9
    assert len(got["first"]) == 2 and len(got["first"][0]) == 50


def test_only_the_seed_the_report_calls_an_outlier_is_read_twice(monkeypatch, tmp_path):
    from lib.training import checkpoint, run_files

    rng = np.random.default_rng(9)
    vocab = list("abcde")
    models = {f"seed{s}": rnn.init_params(5, 4, sigma=0.5, rng=rng) for s in range(4)}
    held = {"seed0": 2.9, "seed1": 2.95, "seed2": 3.0, "seed3": 12.5}
    monkeypatch.setattr(run_folder, "require_finished", lambda folder: {"state": "finished"})
    monkeypatch.setattr(run_files, "read_summary", lambda folder: {"seed": int(folder.name[4:]),
                                                              "heldout": {"best_bpc": held[folder.name]}})
    monkeypatch.setattr(checkpoint, "load_model", lambda path: (models[path.parent.name], vocab, {}))
    text = "".join(rng.choice(vocab, 500))
    found = analysis.outlier_readings([tmp_path / name for name in held], text)
    assert [o["seed"] for o in found] == [3] and found[0]["heldout_bpc"] == 12.5
    direct = analysis.two_readings(models["seed3"], corpus.encode(text, vocab))
    assert found[0]["bits_first"] == direct["bits_first"] and found[0]["gap"] == direct["gap"]
    assert analysis.outlier_readings([tmp_path / "seed0"], text) == []     # one seed: nothing to compare
    fig, caption = inside_figures.outliers_figure({"outliers": found})
    assert "seed 3" in caption and len(fig.axes) == 2
    assert "Seed 3's best model scores 12.50" in inside_report.outliers_text({"outliers": found})


def test_the_report_refuses_an_inside_json_of_another_model(looked, tmp_path):
    from lib.training import run_files

    summary = run_files.read_summary(looked["run"])
    assert inside_report.load(looked["run"], summary)["best_step"] == summary["best_step"]
    assert inside_report.load(tmp_path, summary) is None                  # none there: the section says so
    run_files.write_json(tmp_path / analysis.FILE, dict(looked["data"], best_step=summary["best_step"] + 1))
    with pytest.raises(run_files.ArtifactError, match="from another model .* rerun notebooks/inside.ipynb"):
        inside_report.load(tmp_path, summary)
    assert "inside.json is not there" in inside_report.missing_text(tmp_path)
