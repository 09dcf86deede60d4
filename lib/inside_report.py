"""What inside.json says, as figures, tables and sentences: for inside.ipynb and the report.

Every figure function takes the dict ``lib.inside.read`` returns and gives
(figure, caption); the caption is also the image's alt text.
"""

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import inside, runs

MONO = "DejaVu Sans Mono"   # ships with matplotlib: the same glyphs on every machine and in the PDF
SHOWN = {"\n": "↵", " ": "·", "\t": "→"}
FEATURE_WORDS = {
    "quote": 'inside double quotes (an odd number of " so far)',
    "bracket": "inside brackets ( or [",
    "line_pos": "characters since the last newline",
    "word_start": "the character starts a word",
    "upper": "the character is an uppercase letter",
    "vowel": "the character is a vowel",
    "caps_line": "the line is all capitals (a speaker's name)",
    "space": "the character is a space",
    "word_pos": "characters since the word began",
}


def load(run_dir, summary):
    """run_dir's inside.json if it is there (None if not), checked to be of this run's best model."""
    if not (run_dir / inside.FILE).is_file():
        return None
    data = inside.read(run_dir)
    if data.get("best_step") != summary["best_step"]:
        raise runs.ArtifactError(f"{run_dir / inside.FILE} is from another model (best step "
                                 f"{data.get('best_step')}) than {run_dir / 'summary.json'} (best step "
                                 f"{summary['best_step']}): rerun notebooks/inside.ipynb")
    return data


def _grid(text, width):
    """(row, column) of each character of text laid out in lines of at most width (a newline ends a row)."""
    cells, row, col = [], 0, 0
    for ch in text:
        if col == width:
            row, col = row + 1, 0
        cells.append((row, col))
        col += 1
        if ch == "\n":
            row, col = row + 1, 0
    return cells


def _width(text, most=80):
    """Columns for text: its longest line (a newline included), at most ``most``."""
    return min(most, max(len(line) + 1 for line in text.split("\n")))


def draw_coloured_text(ax, text, values, cmap, vmin, vmax, fontsize=6.5):
    """text on ax, each character on a cell coloured by its value (None: no colour)."""
    width = _width(text)
    cells = _grid(text, width)
    rows = cells[-1][0] + 1 if cells else 1
    grid = np.full((rows, width), np.nan)
    for (r, c), v in zip(cells, values):
        if v is not None:
            grid[r, c] = v
    image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    for (r, c), ch, v in zip(cells, text, values):
        # White on dark cells, black on light ones, so that every character stays readable.
        red, green, blue, _ = image.cmap(image.norm(v)) if v is not None else (1, 1, 1, 1)
        dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
        ax.text(c, r, SHOWN.get(ch, ch), ha="center", va="center", fontsize=fontsize, family=MONO,
                color=("0.8" if dark else "0.45") if ch in SHOWN else ("white" if dark else "black"))
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def certainty_figure(data):
    stretch = data["stretch"]
    rows = _grid(stretch["text"], _width(stretch["text"]))[-1][0] + 1
    fig, ax = plt.subplots(figsize=(8, 0.21 * rows + 0.6))
    image = draw_coloured_text(ax, stretch["text"], stretch["p"], "RdYlGn", 0, 1)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, label="p(character)")
    return fig, (f"Characters {stretch['start']:,} to {stretch['start'] + len(stretch['text']) - 1:,} of the "
                 f"passage, each on the colour of the probability the best model gave it before reading it "
                 f"(green: sure and right, red: surprised); · is a space, ↵ a newline.")


def guesses_figure(data):
    g = data["guesses"]
    n = len(g["text"])
    fig, ax = plt.subplots(figsize=(8, 1.5))
    grid = np.array([[p for _, p in top] for top in g["top"]]).T
    ax.imshow(np.vstack([np.full((1, n), np.nan), grid]), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for col, (ch, top) in enumerate(zip(g["text"], g["top"])):
        ax.text(col, 0, SHOWN.get(ch, ch), ha="center", va="center", fontsize=8, family=MONO, weight="bold")
        for row, (guess, p) in enumerate(top, start=1):
            ax.text(col, row, SHOWN.get(guess, guess), ha="center", va="center", fontsize=7, family=MONO,
                    color="white" if p > 0.6 else "black", weight="bold" if guess == ch else "normal")
    ax.axhline(0.5, color="black", lw=0.8)
    ax.set_xticks([])
    ax.set_yticks(range(6), ["text", "1st", "2nd", "3rd", "4th", "5th"], fontsize=7)
    return fig, (f"Under each of {n} characters of the passage (from character {g['start']:,}), the five "
                 f"characters the best model thought likeliest there before reading it, on the colour of their "
                 f"probability; bold where a guess is the character that came.")


def shown_units(data, count=4):
    """The features whose best unit correlates most strongly, one per unit, strongest first."""
    seen, picked = set(), []
    for u in sorted(data["units"], key=lambda u: -abs(u["r"])):
        if u["unit"] not in seen and abs(u["r"]) > 0:
            seen.add(u["unit"])
            picked.append(u)
    return picked[:count]


def units_figure(data, chars=240):
    picked = shown_units(data)
    text = data["stretch"]["text"][:chars]
    rows = _grid(text, _width(text))[-1][0] + 1
    fig, axes = plt.subplots(len(picked), 1, figsize=(8, len(picked) * (0.21 * rows + 0.35)), squeeze=False)
    for ax, u in zip(axes[:, 0], picked):
        values = data["stretch"]["units"][str(u["unit"])][:chars]
        draw_coloured_text(ax, text, values, "RdBu_r", -1, 1)
        ax.set_title(f"unit {u['unit']}: {u['feature']} (r = {u['r']:+.2f})", fontsize=8, loc="left")
    return fig, ("The same stretch coloured by single hidden units of the best model (red: near +1, blue: near "
                 "−1), for the features they track best: " +
                 "; ".join(f"unit {u['unit']}, {FEATURE_WORDS[u['feature']]}" for u in picked) + ".")


def heatmap_figure(data):
    h = data["heatmap"]
    states = np.array(h["states"])
    fig, ax = plt.subplots(figsize=(8, 4.2))
    image = ax.imshow(states, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(h["text"])), [SHOWN.get(c, c) for c in h["text"]], fontsize=7, family=MONO)
    ax.tick_params(axis="x", length=0)
    ax.set_ylabel("hidden unit")
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01, label="h_t")
    return fig, (f"All {states.shape[0]} hidden units (rows) of the best model after reading each of {states.shape[1]} "
                 f"characters (columns) of the passage from character {h['start']:,}.")


def reach_figure(data):
    reach = data["gradient_reach"]
    k = [e["k"] for e in reach]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.semilogy(k, [e["trained"] for e in reach], color="C0", label="best model")
    left.semilogy(k, [e["init"] for e in reach], color="0.5", ls="--", label="at initialisation")
    left.set_xlabel("k (characters back)")
    left.set_ylabel(r"mean $\|\partial \log p(c_{t+1}) / \partial h_{t-k}\|$")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    sv = data["singular_values"]
    right.semilogy(range(1, len(sv["trained"]) + 1), sv["trained"], color="C0", label="best model")
    right.semilogy(range(1, len(sv["init"]) + 1), sv["init"], color="0.5", ls="--", label="at initialisation")
    right.axhline(1, color="C3", lw=0.8, ls=":")
    right.set_xlabel("index")
    right.set_ylabel("singular value of W")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    fig.tight_layout()
    return fig, (f"Left: how strongly the log-probability of the next character depends on the state k characters "
                 f"earlier, averaged over {data['reach_positions']:,} positions of the passage (log scale). "
                 f"Right: the singular values of the recurrent matrix W (the dotted line is 1).")


def outliers_figure(data):
    found = data["outliers"]
    fig, axes = plt.subplots(len(found), 2, figsize=(8, 3.2 * len(found)), squeeze=False)
    for (left, right), o in zip(axes, found):
        for key, colour, label in (("first", "C3", "from the first character"),
                                   ("second", "C0", "from the second character")):
            left.plot(*o[key], color=colour, lw=0.4, alpha=0.7, label=label)
        left.set_xlabel(f"principal axis 1 ({o['explained'][0]:.0%})")
        left.set_ylabel(f"principal axis 2 ({o['explained'][1]:.0%})")
        left.set_title(f"seed {o['seed']}: hidden states, first {len(o['gap']):,} characters", fontsize=9)
        left.legend(fontsize=7)
        right.semilogy(range(1, len(o["gap"]) + 1), o["gap"], color="C2", lw=0.8)
        right.set_xlabel("characters read by both")
        right.set_ylabel("‖state from the first − from the second‖")
        right.grid(alpha=0.3)
    fig.tight_layout()
    seeds = " and ".join(str(o["seed"]) for o in found)
    return fig, (f"The best model of seed {seeds} reading the passage twice from h = 0, from its first character "
                 f"(red) and from its second (blue). Left: the hidden states on the two principal axes of both "
                 f"readings. Right: the distance between the two readings' states after each character both have read.")


FIGURES = (("inside_certainty", certainty_figure), ("inside_guesses", guesses_figure),
           ("inside_units", units_figure), ("inside_heatmap", heatmap_figure), ("inside_reach", reach_figure),
           ("inside_outliers", outliers_figure))


def figure_stems(data):
    """The figures data has, in the order the report shows them (the outliers' only if there are any)."""
    return [stem for stem, _ in FIGURES if stem != "inside_outliers" or data.get("outliers")]


def figures(data):
    """[(file stem, figure, caption), ...] for each of figure_stems(data)."""
    draw = dict(FIGURES)
    return [(stem, *draw[stem](data)) for stem in figure_stems(data)]


def outliers_text(data):
    found = data.get("outliers") or []
    if not found:
        given = data.get("seeds_compared", 0)
        return (f"None of the {given} seeds compared has a held-out figure far from the others'." if given > 1 else
                "The look inside was given no other seeds to compare (make report gives it every seed).")
    out = []
    for o in found:
        gap, n = o["gap"], len(o["gap"])
        apart = gap[-1] > 0.5 * gap[0]
        out.append(
            f"Seed {o['seed']}'s best model scores {o['heldout_bpc']:.2f} bits per character on the held-out play "
            f"(section 3.4). On this passage it scores {o['bits_first']:.3f} read from the first character and "
            f"{o['bits_second']:.3f} read from the second. The distance between the two readings' states after the "
            f"same character is {gap[0]:.3g} after the first character both have read, {gap[min(99, n - 1)]:.3g} "
            f"after {min(100, n)} and {gap[-1]:.3g} after {n:,}: " +
            ("the two readings never meet: one first character puts the same weights in a regime of their own, "
             "and the recurrence keeps it there." if apart else
             "the readings come together, so the first character's effect fades."))
    return " ".join(out)


# ----------------------------------------------------------- tables and sentences
def introduction(data):
    return (f"The best model of the {data['epochs']}-epoch run (step {data['best_step']:,}) reads the first "
            f"{data['chars']:,} characters of {data['text_name']} from h = 0, predicting each character from "
            f"those before it; it scores {data['rnn_bits_per_char']:.3f} bits per character on them "
            f"({data['init_bits_per_char']:.3f} at initialisation).")


def missing_text(run_dir):
    return (f"This report has no look inside the network: {Path(run_dir) / inside.FILE} is not there. `make report` "
            f"writes it for the default corpus; for a run of your own, run `notebooks/inside.ipynb` with `run_dir` "
            f"(and `text_path`, a text the run never saw, when it held nothing out).")


def kind_intro(data):
    top = max(e["n"] for e in data["ngram"])
    return (f"Bits per character over the whole passage by kind of position, for the best model and the {top}-gram "
            f"model of section 5.4. A position is of the first kind that fits the character just read and the one "
            f"to predict: after a newline; after punctuation (neither a letter nor a space); a space before a "
            f"letter (the start of a word); a letter before a letter (inside a word); a letter before anything "
            f"else (the end of a word); the rest.")


def kind_table(data):
    top = str(max(e["n"] for e in data["ngram"]))
    lines = [f"| position | count | RNN bits/char | {top}-gram bits/char |", "|:---|---:|---:|---:|"]
    for e in data["by_kind"]:
        lines.append(f"| {e['kind']} | {e['positions']:,} | {e['rnn']:.3f} | {e['ngram'][top]:.3f} |")
    return "\n".join(lines)


def units_table(data):
    lines = ["| feature | mean | best unit | r | r at initialisation | r, feature shuffled |",
             "|:---|---:|---:|---:|---:|---:|"]
    for u in data["units"]:
        lines.append(f"| {u['feature']} | {u['mean']:.3g} | {u['unit']} | "
                     f"{u['r']:+.3f} | {u['r_init']:+.3f} | {u['r_shuffled']:+.3f} |")
    return "\n".join(lines)


def units_text(data):
    constant = [u["feature"] for u in data["units"] if u["mean"] in (0, 1)]
    learnt = [u for u in data["units"] if abs(u["r"]) > max(2 * abs(u["r_init"]), 3 * abs(u["r_shuffled"]), 0.3)]
    text = ("Features, at each position of the passage: " +
            "; ".join(f"*{name}*, {FEATURE_WORDS[name]}" for name in inside.FEATURES) + ". "
            f"For each feature, the hidden unit whose value correlates most strongly with it over the passage "
            f"(Pearson r), the same search in the network as it was initialised, and against the feature shuffled "
            f"(what chance gives with {data['chars'] - 1:,} positions and {data['m']} "
            f"units to pick from). ")
    if learnt:
        text += ("Learnt, well beyond both: " + ", ".join(f"{u['feature']} (unit {u['unit']}, r = {u['r']:+.2f})"
                                                           for u in learnt) + ". ")
    else:
        text += "No unit tracks a feature clearly beyond chance and initialisation. "
    at_init = [u for u in data["units"] if abs(u["r_init"]) > 0.3]
    if at_init:
        text += ("Strong even at initialisation, where the state is little more than tanh(U x + b) of the "
                 "character just read: " + ", ".join(f"{u['feature']} (r = {u['r_init']:+.2f})" for u in at_init) + "; a "
                 "feature of the character itself needs no memory, one of what came before does. ")
    if constant:
        text += ("Never varies in this passage, so r = 0: " + ", ".join(constant) + ".")
    return text


def ngram_table(data):
    lines = ["| model | bits per character |", "|:---|---:|"]
    for e in data["ngram"]:
        lines.append(f"| {e['n']}-gram, interpolated Kneser-Ney | {e['bits_per_char']:.3f} |")
    lines.append(f"| the RNN's best model | {data['rnn_bits_per_char']:.3f} |")
    return "\n".join(lines)


def ngram_text(data):
    best = min(data["ngram"], key=lambda e: e["bits_per_char"])
    rnn = data["rnn_bits_per_char"]
    top = str(max(e["n"] for e in data["ngram"]))
    verdict = (f"The RNN ({rnn:.3f} bits per character) beats every n-gram model here; the best of them, the "
               f"{best['n']}-gram, scores {best['bits_per_char']:.3f}" if rnn < best["bits_per_char"] else
               f"The {best['n']}-gram model ({best['bits_per_char']:.3f} bits per character) beats the RNN "
               f"({rnn:.3f}): counting the training text's {best['n']}-character strings predicts this passage "
               f"better than the small network does")
    gaps = sorted(((e["rnn"] - e["ngram"][top], e) for e in data["by_kind"] if e["positions"] >= 100),
                  key=lambda g: g[0])
    better = [e["kind"] for gap, e in gaps if gap < 0]
    worse = [e["kind"] for gap, e in gaps if gap >= 0]
    if not gaps:
        where = "No kind of position has 100 positions or more in this passage to compare."
    elif not worse or not better:
        side = "the RNN" if not worse else f"the {top}-gram"
        (low, low_e), (high, high_e) = (gaps[-1], gaps[0]) if not worse else (gaps[0], gaps[-1])
        where = (f"By kind of position (those with 100 or more), {side} is better at every one: by the most "
                 f"{high_e['kind']} (RNN {high_e['rnn']:.3f}, {top}-gram {high_e['ngram'][top]:.3f} bits per "
                 f"character), by the least {low_e['kind']} (RNN {low_e['rnn']:.3f}, {top}-gram "
                 f"{low_e['ngram'][top]:.3f}).")
    else:
        where = (f"By kind of position (those with 100 or more), the RNN is better than the {top}-gram "
                 f"{', '.join(better)}, and worse {', '.join(worse)}.")
    return (f"Character n-gram models fitted on the run's training text, each predicting from the last n − 1 "
            f"characters (fewer at the start), interpolated Kneser-Ney with one discount per order. "
            f"{verdict}. {where}")


def reach_text(data):
    reach = data["gradient_reach"]
    trained, init = [e["trained"] for e in reach], [e["init"] for e in reach]
    last = len(reach) - 1

    def per_step(values, a, b):                  # the geometric mean factor of one step back, k = a .. b
        return (values[b] / values[a]) ** (1 / (b - a)) if values[a] > 0 and values[b] > 0 else 0.0

    return (f"The gradient of the log-probability of the next character with respect to the state k "
            f"characters back is a product of k factors, one per step back: the transposed recurrent matrix W "
            f"times the slopes 1 − h² of the units the step passes through. In the best model the mean norm falls to "
            f"{trained[10] / trained[0]:.2g} of its k = 0 value at k = 10 and to {trained[last] / trained[0]:.2g} "
            f"at k = {last}, about ×{per_step(trained, 10, last):.2f} per character; at initialisation, where "
            f"every weight is of order σ, it falls ×{per_step(init, 10, last):.2g} per character. Training has "
            f"grown W (largest singular value {data['singular_values']['trained'][0]:.2f}, against "
            f"{data['singular_values']['init'][0]:.2f} at initialisation), and the slopes 1 − h² average "
            f"{data['mean_tanh_slope']:.2f} over the passage. " + _memory_sentence(trained, data["seq_length"]))


def _memory_sentence(trained, seq_length):
    thousandth = next((k for k, v in enumerate(trained) if v < 1e-3 * trained[0]), None)
    if thousandth is None:
        return (f"The norm stays above a thousandth of its k = 0 value up to k = {len(trained) - 1}: this model's "
                f"predictions still feel characters that far back.")
    return (f"By k = {thousandth} it is below a thousandth of its k = 0 value: this is the vanishing gradient of a "
            f"vanilla RNN, whose predictions barely feel what it read more than {thousandth} characters before "
            f"(and training, which backpropagates through chunks of {seq_length} characters, never asked it to "
            f"reach further).")
