"""Small texts the notebook and report tests write for themselves."""

import random

WORDS = ("the cat sat on a mat and the dog ran to the park while small birds sang in the old "
         "trees by the river").split()


def learnable_text(n_words=2500, seed=1):
    """Lines of words from a tiny vocabulary: a char-RNN learns it within a few hundred updates."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_words // 10):
        line = " ".join(rng.choice(WORDS) for _ in range(10))
        lines.append(line[0].upper() + line[1:] + ".")
    return "\n".join(lines) + "\n"


# Characters a novel brings that must survive into the report: a bullet, an umlaut,
# a Cyrillic е (U+0435) that looks like a Latin e, curly quotes, a dash and a tab.
NON_ASCII = "•ü\u0435“”‘’—\t"


def unicode_text(n_words=2500, seed=2):
    """learnable_text with the NON_ASCII characters scattered through it, many times."""
    base = learnable_text(n_words, seed)
    out = []
    for i, ch in enumerate(base):
        out.append(ch)
        if ch == " " and i % 7 == 0:
            out.append(NON_ASCII[(i // 7) % len(NON_ASCII)])
    return "".join(out)
