"""How temperature and nucleus sampling change a model's text, in numbers (the report's section 6.4).

Each setting draws several samples from h = 0, each with a seed of its own, and each sample is
measured three ways against the text the model trained on:

    word_share      the share of the sample's words that are words of the training text: how
                    much of it is English the model has seen, not invented;
    ngram_bits      its bits per character under an interpolated Kneser-Ney n-gram model of the
                    training text (lib/inside/ngram.py, n = 6): how ordinary its spelling is;
                    a sample copied from the training text would score low, noise high;
    distinct_words  distinct words / words: low when the sample repeats itself.

A word is a maximal run of ASCII letters, with apostrophes inside it (``o'er``, ``'tis`` is
``tis``), compared in lower case. The same measures of excerpts of a text the model never saw
(the run's held-out text, when it has one) give the reader a scale: real, unseen English.
"""

import math
import re

import numpy as np

from lib.inside import ngram
from lib.sample import sampling
from lib.text import corpus

NGRAM_N = 6
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
MEASURES = ("word_share", "ngram_bits", "distinct_words")


def words(text):
    """The text's words, lower-cased (see the module docstring)."""
    return [w.lower() for w in WORD.findall(text)]


def word_share(text, known):
    """Share of text's words in the set `known` (0.0 for a text with no words)."""
    found = words(text)
    return sum(w in known for w in found) / len(found) if found else 0.0


def distinct_words(text):
    """Distinct words / words (0.0 for a text with no words)."""
    found = words(text)
    return len(set(found)) / len(found) if found else 0.0


def ngram_bits(model, data, n=NGRAM_N):
    """Bits per character of the encoded text `data` (ints) under the fitted n-gram model, from its
    second character on (the first has no context to be predicted from)."""
    return float(-np.mean(np.log2(model.probabilities(data, n))))


def whole_words(text):
    """The text from its first white space to its last: an excerpt cut out of a longer text (or a
    sample stopped at its length) loses the pieces of words at its two ends."""
    spaces = [i for i, ch in enumerate(text) if ch.isspace()]
    return text[spaces[0] + 1:spaces[-1]] if len(spaces) > 1 else ""


def measure_text(text, vocab, model, known):
    """The three measures of one text: {"word_share", "ngram_bits", "distinct_words"} (the two word
    measures of its whole words, ``whole_words``)."""
    inner = whole_words(text)
    return {"word_share": word_share(inner, known), "ngram_bits": ngram_bits(model, corpus.encode(text, vocab)),
            "distinct_words": distinct_words(inner)}


def settings(temperatures, top_ps):
    """[(temperature, top_p)]: each temperature with plain sampling, then each θ at temperature 1;
    plain sampling (1, 1) once, first when no temperature list has it."""
    out = [(float(t), 1.0) for t in temperatures]
    if (1.0, 1.0) not in out:
        out.insert(0, (1.0, 1.0))
    out += [(1.0, float(theta)) for theta in top_ps if float(theta) != 1.0]
    return out


def measure(params, vocab, training_text, temperatures, top_ps, draws, length, seed=0, reference=None):
    """Draw and measure `draws` samples of `length` characters for every setting.

    Args:
        params, vocab: the model.
        training_text: what the model trained on (the n-gram model and the known words come from it).
        temperatures, top_ps: the settings (``settings``).
        draws: samples per setting, seeds seed, seed + 1, ...; 0: no measures (None).
        reference: (name, text) of a text the model never saw, measured in `draws` excerpts of
            `length` characters spread evenly over it; None: no reference row.
    Returns:
        {"draws", "length", "ngram_n", "seed", "settings": [{"temperature", "top_p", <measure>: [per
        draw]}], "reference": {"name", <measure>: [per excerpt]} or None}, or None when draws is 0.
    """
    if draws == 0:
        return None
    model = ngram.KneserNey(corpus.encode(training_text, vocab), len(vocab), NGRAM_N)
    known = set(words(training_text))
    rows = []
    for temperature, top_p in settings(temperatures, top_ps):
        texts = [sampling.sample_text(params, vocab, length, seed + i, temperature, top_p=top_p)
                 for i in range(draws)]
        rows.append({"temperature": temperature, "top_p": top_p, **_columns(texts, vocab, model, known)})
    held = None
    if reference is not None:
        name, text = reference
        if len(text) >= length:
            starts = np.linspace(0, len(text) - length, draws).astype(int)
            held = {"name": name, **_columns([text[s:s + length] for s in starts], vocab, model, known)}
    return {"draws": draws, "length": length, "ngram_n": NGRAM_N, "seed": seed, "settings": rows,
            "reference": held}


def _columns(texts, vocab, model, known):
    measured = [measure_text(t, vocab, model, known) for t in texts]
    return {key: [m[key] for m in measured] for key in MEASURES}


def check(measures):
    """A problem with a passage.json's measures as one phrase, or None when its shape is right."""
    if measures is None:
        return None
    if not isinstance(measures, dict) or not isinstance(measures.get("settings"), list) or not measures["settings"]:
        return "measures has no settings"
    draws = measures.get("draws")
    rows = measures["settings"] + ([measures["reference"]] if measures.get("reference") else [])
    for row in rows:
        for key in MEASURES:
            values = row.get(key) if isinstance(row, dict) else None
            if (not isinstance(values, list) or len(values) != draws
                    or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)):
                return f"measures' {key} is not {draws} finite numbers in every row"
    return None


def _cell(values, digits):
    return f"{np.mean(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def measures_table(measures):
    """The measures as a Markdown table: each setting's mean over its draws and their range."""
    if measures is None:
        return missing_text()
    lines = [f"{measures['draws']} samples of {measures['length']:,} characters per setting, from a zero hidden "
             f"state; each cell the mean and (range) over them.", "",
             f"| temperature | θ | words seen in training | bits/char under the {measures['ngram_n']}-gram model "
             f"| distinct words / words |", "|---|---|---|---|---|"]
    for row in measures["settings"]:
        lines.append(f"| {row['temperature']:g} | {row['top_p']:g} | {_cell(row['word_share'], 3)} "
                     f"| {_cell(row['ngram_bits'], 2)} | {_cell(row['distinct_words'], 3)} |")
    held = measures.get("reference")
    if held:
        lines.append(f"| *{held['name']}* | | {_cell(held['word_share'], 3)} | {_cell(held['ngram_bits'], 2)} "
                     f"| {_cell(held['distinct_words'], 3)} |")
    return "\n".join(lines)


def missing_text():
    return ("The best-model stage wrote no measures of the samples (`passage.json` has none: a record-mode model, "
            "`measure_draws = 0`, or a stage older than them): run `notebooks/best_model.ipynb` again.")


# measure: (what it is, the word when the first setting's draws all lie above, all below, the table's decimals).
PHRASES = {"word_share": ("share of words seen in training", "a larger", "a smaller", 3),
           "ngram_bits": ("bits per character under the n-gram model", "more", "fewer", 2),
           "distinct_words": ("share of distinct words", "a larger", "a smaller", 3)}


def _apart(a, b):
    """"above", "below" or "overlap": a's draws against b's."""
    if min(a) > max(b):
        return "above"
    if max(a) < min(b):
        return "below"
    return "overlap"


def measures_text(measures):
    """What the table shows, in sentences computed from it: the lowest and highest temperature, and
    the smallest and largest θ, each pair compared only as far as their draws do not overlap."""
    if measures is None:
        return ""
    rows = measures["settings"]
    sentences = []
    plain = [r for r in rows if r["top_p"] == 1.0]
    nucleus = [r for r in rows if r["temperature"] == 1.0]
    for group, name, key in ((plain, "temperature", "temperature"), (nucleus, "θ", "top_p")):
        low, high = min(group, key=lambda r: r[key]), max(group, key=lambda r: r[key])
        if low is high:
            continue
        parts = []
        for measure, (what, more, less, digits) in PHRASES.items():
            side = _apart(low[measure], high[measure])
            if side == "overlap":
                parts.append(f"no difference in {what} beyond the spread of the draws")
            else:
                parts.append(f"{more if side == 'above' else less} {what} "
                             f"({np.mean(low[measure]):.{digits}f} against {np.mean(high[measure]):.{digits}f})")
        sentences.append(f"At {name} {low[key]:g}, against {high[key]:g}, the samples have " + "; ".join(parts) + ".")
    held = measures.get("reference")
    if held:
        sentences.append(f"Excerpts of {held['name']}, never trained on, score {np.mean(held['word_share']):.3f}, "
                         f"{np.mean(held['ngram_bits']):.2f} bits/char and {np.mean(held['distinct_words']):.3f}.")
    return " ".join(sentences)
