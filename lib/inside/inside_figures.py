"""The figures of inside.json: coloured text, units, gradient reach, the outlier seed.

Every figure function takes the dict ``lib.inside.analysis.read`` returns and gives
(figure, caption); the caption is also the image's alt text. inside.ipynb saves
them beside inside.json, and the report draws them again from the same numbers.
"""

import matplotlib.pyplot as plt
import numpy as np

from lib.inside.analysis import FEATURE_WORDS

MONO = "DejaVu Sans Mono"   # ships with matplotlib: the same glyphs on every machine and in the PDF
SHOWN = {"\n": "↵", " ": "·", "\t": "→"}


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
    """The figures data has, in the order the report shows them (the outliers' only if there are any, the
    gradient reach only for the vanilla cell)."""
    return [stem for stem, _ in FIGURES if (stem != "inside_outliers" or data.get("outliers"))
            and (stem != "inside_reach" or data.get("gradient_reach"))]


def figures(data):
    """[(file stem, figure, caption), ...] for each of figure_stems(data)."""
    draw = dict(FIGURES)
    return [(stem, *draw[stem](data)) for stem in figure_stems(data)]
