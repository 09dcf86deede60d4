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
from pathlib import Path

import numpy as np
import pytest
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
