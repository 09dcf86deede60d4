"""The sweeps' measures (lib/sample/measures.py): what each measure says of a text, the settings
drawn, and the report's table and sentences."""

import json

import numpy as np
import pytest

from lib import rnn
from lib.inside import ngram
from lib.report import report_inputs
from lib.sample import measures
from lib.text import corpus
from lib.training.run_files import ArtifactError

# Words in a seeded random order: every n-gram level has counts of one and two, as a real text's do
# (Kneser-Ney's discounts come from them; a text repeated whole would have none).
_WORDS = "the king is dead long live queen o'er hills rode and slept a horse my kingdom for".split()
TRAINING = " ".join(np.random.default_rng(5).choice(_WORDS, 600)) + ".\n"


def test_word_share_and_distinct_words():
    known = set(measures.words(TRAINING))
    assert measures.word_share("The KING rode o'er the hills.", known) == 1.0
    assert measures.word_share("Zorb quix flam.", known) == 0.0
    assert measures.word_share("the zorb", known) == 0.5
    assert measures.word_share("... !!", known) == 0.0
    assert measures.distinct_words("the the the king") == 0.5
    assert measures.words("O'er 'tis x2y") == ["o'er", "tis", "x", "y"]
    assert measures.whole_words("ng live the ki") == "live the" and measures.whole_words("king") == ""


def test_ngram_bits_are_the_models_own_probabilities():
    vocab = corpus.build_vocab(TRAINING)
    data = corpus.encode(TRAINING, vocab)
    model = ngram.KneserNey(data, len(vocab), 6)
    text = "the queen is dead. long live the queen."
    x = corpus.encode(text, vocab)
    assert measures.ngram_bits(model, x) == pytest.approx(-np.mean(np.log2(model.probabilities(x, 6))), rel=1e-12)
    # Text copied from the training text is more ordinary than the same characters shuffled.
    shuffled = "".join(np.random.default_rng(0).permutation(list(text)))
    assert measures.ngram_bits(model, x) < measures.ngram_bits(model, corpus.encode(shuffled, vocab)) - 1


def test_settings_cover_every_temperature_and_theta_with_plain_sampling_once():
    assert measures.settings([0.5, 1.0], [0.3, 1.0]) == [(0.5, 1.0), (1.0, 1.0), (1.0, 0.3)]
    assert measures.settings([0.5], [0.3, 0.9]) == [(1.0, 1.0), (0.5, 1.0), (1.0, 0.3), (1.0, 0.9)]


@pytest.fixture(scope="module")
def model():
    vocab = corpus.build_vocab(TRAINING)
    params = rnn.init_params(len(vocab), 8, 0.3, np.random.default_rng(1))
    return params, vocab


def test_measure_draws_each_setting_and_the_reference(model):
    params, vocab = model
    held = TRAINING[:400]
    got = measures.measure(params, vocab, TRAINING, [0.5, 1.0], [0.4], 3, 150, seed=2, reference=("held", held))
    assert [(r["temperature"], r["top_p"]) for r in got["settings"]] == [(0.5, 1.0), (1.0, 1.0), (1.0, 0.4)]
    assert all(len(r[k]) == 3 for r in got["settings"] + [got["reference"]] for k in measures.MEASURES)
    assert got["reference"]["word_share"] == [1.0, 1.0, 1.0]  # excerpts of the training text itself
    assert measures.check(got) is None
    json.dumps(got)  # passage.json holds it
    again = measures.measure(params, vocab, TRAINING, [0.5, 1.0], [0.4], 3, 150, seed=2, reference=("held", held))
    assert again == got
    assert measures.measure(params, vocab, TRAINING, [1.0], [], 0, 150) is None
    assert measures.measure(params, vocab, TRAINING, [1.0], [], 2, 500, reference=("short", "the king"))["reference"] \
        is None


def row(temperature, top_p, share, bits, distinct):
    return {"temperature": temperature, "top_p": top_p, "word_share": share, "ngram_bits": bits,
            "distinct_words": distinct}


def test_table_and_sentences_say_no_more_than_the_draws():
    m = {"draws": 2, "length": 100, "ngram_n": 6, "seed": 0, "reference": None,
         "settings": [row(0.5, 1.0, [0.9, 0.92], [2.0, 2.1], [0.3, 0.5]),
                      row(1.0, 1.0, [0.6, 0.7], [3.5, 3.6], [0.4, 0.6]),
                      row(1.0, 0.3, [0.95, 0.96], [1.9, 2.0], [0.1, 0.1])]}
    table = measures.measures_table(m)
    assert "| 0.5 | 1 | 0.910 (0.900–0.920) | 2.05 (2.00–2.10) | 0.400 (0.300–0.500) |" in table
    text = measures.measures_text(m)
    assert "At temperature 0.5, against 1, the samples have a larger share of words seen in training (0.910 " \
           "against 0.650); fewer bits per character" in text
    assert "no difference in share of distinct words beyond the spread of the draws" in text
    assert "At θ 0.3, against 1" in text and "a smaller share of distinct words (0.100 against 0.500)" in text
    assert "wrote no measures" in measures.measures_table(None)


def test_a_malformed_measures_is_named_in_one_line(tmp_path, monkeypatch):
    m = {"draws": 2, "length": 100, "ngram_n": 6, "seed": 0, "reference": None,
         "settings": [row(0.5, 1.0, [0.9], [2.0, 2.1], [0.3, 0.5])]}
    assert measures.check(m) == "measures' word_share is not 2 finite numbers in every row"
    m["settings"][0]["word_share"] = [0.9, float("nan")]
    assert measures.check(m)
    assert measures.check({"settings": []}) == "measures has no settings"
    passage = {k: 0 for k in report_inputs.run_files.PASSAGE_KEYS}
    (tmp_path / "passage.json").write_text(json.dumps(dict(passage, measures={"settings": []})), encoding="utf-8")
    monkeypatch.setattr(report_inputs.run_folder, "require_finished", lambda d: {})
    for reader in ("read_summary", "read_history", "read_evolution"):
        monkeypatch.setattr(report_inputs.run_files, reader, lambda d: {"run_steps": 0, "steps": 0})
    with pytest.raises(ArtifactError, match=r"malformed run file .*passage.json: measures has no settings"):
        report_inputs.load_report_inputs([tmp_path], tmp_path)
