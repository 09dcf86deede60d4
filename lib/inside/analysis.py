"""What a trained network learned: its certainty, its units, its memory, against n-gram models.

The passage is the first ``chars`` characters of a text the run never trained on,
read from h = 0. At position t the network has read characters 0 .. t (its state
h_t, ``H[t + 1]`` in lib.rnn's notation) and predicts character t + 1. Everything
here is computed from ``rnn.forward`` on that passage, once for the best model and
once for the model as it was initialised; ``inside.json`` keeps the results (one
writer, ``write``, and one reader, ``read``).
"""

import math
from pathlib import Path

import numpy as np

from lib import checks, network, rnn
from lib.inside import ngram
from lib.text import corpus, sidecar
from lib.training import parts, run_files, train

FILE = "inside.json"
# The features of issue 18, then two more: whether a unit knows it is between words,
# and how far into a word it is.
FEATURES = ("quote", "bracket", "line_pos", "word_start", "upper", "vowel", "caps_line", "space", "word_pos")
# What each feature means, in a reader's words.
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
# Each predicted position falls in exactly one kind, decided by the first rule that fits
# (c_t is the character just read, c_{t+1} the one predicted).
KINDS = ("after a newline", "after punctuation", "start of a word", "inside a word", "end of a word",
         "other")
MAX_K = 100              # how far back the gradient reach looks
REACH_POSITIONS = 2000   # positions it averages over, evenly spread (each costs MAX_K small products)
SHUFFLE_SEED = 0
REQUIRED = ("text_sha256", "chars", "rnn_bits_per_char", "ngram", "units", "gradient_reach")


def _classes(text):
    """Per character of text: (letter, upper, vowel, space, newline) boolean arrays."""
    vocab = sorted(set(text))
    table = np.array([[ch.isalpha(), ch.isalpha() and ch.isupper(), ch.lower() in "aeiou", ch == " ",
                       ch == "\n"] for ch in vocab], dtype=bool).reshape(len(vocab), 5)
    return table[corpus.encode(text, vocab)].T


def features(text):
    """{name: (len(text),) float array} for each of FEATURES, at each position t of text."""
    letter, upper, vowel, space, newline = _classes(text)
    n = len(text)
    t = np.arange(n)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    quotes = np.cumsum(codes == ord('"'))
    steps = np.isin(codes, [ord("("), ord("[")]).astype(np.int64) - np.isin(codes, [ord(")"), ord("]")])
    walk = np.cumsum(steps)
    # A walk floored at 0 is the walk minus its lowest point so far (when that is below 0).
    depth = walk - np.minimum(np.minimum.accumulate(walk), 0)
    last_newline = np.maximum.accumulate(np.where(newline, t, -1))
    word_start = letter & np.concatenate(([True], ~letter[:-1]))
    # Lines: a newline belongs to the line it ends.
    line = np.concatenate(([0], np.cumsum(newline)[:-1]))
    letters_in_line = np.bincount(line, weights=letter)
    upper_in_line = np.bincount(line, weights=upper)
    caps_line = ((letters_in_line >= 2) & (upper_in_line == letters_in_line))[line]
    started = np.maximum.accumulate(np.where(word_start, t, -1))
    word_pos = np.where(letter, t - started, 0)
    return {"quote": quotes % 2, "bracket": depth > 0, "line_pos": t - last_newline,
            "word_start": word_start, "upper": upper, "vowel": vowel, "caps_line": caps_line,
            "space": space, "word_pos": word_pos}


def position_kinds(text):
    """(len(text) - 1,) int: the index in KINDS of each predicted position t (predicting t + 1)."""
    letter, _, _, space, newline = _classes(text)
    now, following = slice(0, -1), slice(1, None)
    punctuation = ~letter & ~space & ~newline
    rules = [newline[now], punctuation[now], space[now] & letter[following],
             letter[now] & letter[following], letter[now] & ~letter[following]]
    return np.select(rules, range(len(rules)), default=len(rules))


def correlations(states, feature):
    """(m,) Pearson r of each unit of states (n, m) with feature (n,); 0 for a constant unit or feature."""
    states = np.asarray(states, dtype=float)
    feature = np.asarray(feature, dtype=float)
    s = states - states.mean(axis=0)
    f = feature - feature.mean()
    scale = np.linalg.norm(s, axis=0) * np.linalg.norm(f)
    constant = (np.ptp(states, axis=0) == 0) | (np.ptp(feature) == 0)
    return np.where(constant, 0.0, (f @ s) / np.where(constant, 1.0, scale))


def best_unit(states, feature):
    """(unit, r): the unit with the largest |r| (the lowest index among equals)."""
    r = correlations(states, feature)
    unit = int(np.argmax(np.abs(r)))
    return unit, float(r[unit])


def initial_params(K, m, sigma, seed, init="normal"):
    """The weights a run of this seed started from, drawn as lib.training.train.train draws them
    (init: the run's, "normal" with sigma or the 2026 handout's "scaled")."""
    init_seq, _ = np.random.SeedSequence(seed).spawn(2)
    return rnn.init_params(K, m, sigma, np.random.default_rng(init_seq), init)


def run_initial_params(summary, K):
    """The weights the run of this summary started from, for any network (lib.network.init_params, drawn
    from the run seed's first stream as train() draws them)."""
    if summary.get("cell", "rnn") == "rnn":
        return initial_params(K, summary["m"], summary["sigma"], summary["seed"], summary.get("init", "normal"))
    init_seq, _ = np.random.SeedSequence(summary["seed"]).spawn(2)
    return network.init_params(summary, K, np.random.default_rng(init_seq))


def forward(params, x):
    """(H, P) of a model reading x from the zero state, for any network: H (n + 1, m), H[0] = 0 and H[t] the
    (top layer's) hidden state after x[t - 1]; P (n, K), row t - 1 the probabilities of the next character
    after x[t - 1]. The vanilla cell's is lib.rnn.forward; a gated network's is read one step at a time."""
    if network.cell_of(params) == "rnn":
        return rnn.forward(params, x, np.zeros(network.sizes(params)[1]))
    params = {name: np.asarray(value, dtype=float) for name, value in params.items()}
    K, m = network.sizes(params)
    H, O = np.zeros((len(x) + 1, m)), np.empty((len(x), K))
    state = network.init_state(params)
    for t, character in enumerate(x):
        state, O[t] = network.step(params, state, int(character))
        H[t + 1] = state[-2 if network.cell_of(params) == "lstm" else -1][0]   # the top layer's h
    return H, rnn.softmax_rows(O)


# What a look inside says where an analysis is the vanilla cell's alone.
VANILLA_ONLY = ("The gradient reach and the singular values of W are the vanilla cell's analyses (one recurrent "
                "matrix W and tanh slopes); a gated network's memory runs through its gates, so they are left out here.")


def reach_positions(n, max_k=MAX_K, count=REACH_POSITIONS):
    """Up to count positions t, evenly spread, with max_k characters before them and a character after."""
    if n - 1 <= max_k:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.linspace(max_k, n - 2, min(count, n - 1 - max_k)).round().astype(np.int64))


def gradient_reach(params, x, H, P, positions, max_k=MAX_K):
    """(max_k + 1,) mean over positions t of || d log p_t[x_{t+1}] / d h_{t-k} ||, k = 0 .. max_k.

    Backpropagation through time from one output: d log p_t[y] / d o_t = e_y - p_t, so
    d/dh_t = V^T (e_y - p_t), and each step back multiplies by W^T diag(1 - h^2) of the
    state it passes through (h_{t-k} = tanh(W h_{t-k-1} + ...)). All positions step
    back together, one row each: g (as a row) becomes (g * (1 - h_{t-k}^2)) W.
    H, P: forward's output on x (H[t + 1] = h_t).
    """
    positions = np.asarray(positions)
    targets = np.zeros((len(positions), P.shape[1]))
    targets[np.arange(len(positions)), x[positions + 1]] = 1.0
    g = (targets - P[positions]) @ params["V"]
    norms = np.empty(max_k + 1)
    for k in range(max_k + 1):
        norms[k] = np.linalg.norm(g, axis=1).mean()
        h = H[positions - k + 1]                                # h_{t-k}
        g = (g * (1.0 - h * h)) @ params["W"]
    return norms


def top_guesses(P, t, vocab, k=5):
    """[(character, probability), ...]: the k likeliest next characters after position t."""
    order = np.argsort(-P[t], kind="stable")[:k]
    return [(vocab[i], float(P[t, i])) for i in order]


# A passage is "seen" where it repeats the training text: every character inside a string of at least
# SEEN_LENGTH characters that the training text also holds (ordinary prose shares phrases, rarely a whole
# line of this length). From a share of SEEN_SHARE on, the n-gram models, which count the training text's
# strings, are read on text they memorised, and the comparison with the RNN draws no conclusion.
SEEN_LENGTH = 40
SEEN_SHARE = 0.05


def _window_hashes(codes, length, base):
    """(len(codes) - length + 1,) uint64: a polynomial hash (mod 2^64) of each window of length codes."""
    n = len(codes) - length + 1
    hashes = np.zeros(max(n, 0), dtype=np.uint64)
    for i in range(length):
        hashes = hashes * base + codes[i:i + max(n, 0)]
    return hashes


def seen_in_training(training_text, text, length=SEEN_LENGTH):
    """{"length", "chars", "share"}: how many characters of text lie inside a string of `length`
    characters that training_text holds too, and their share of text.

    Windows are found by their hash and then compared character by character, so a window counts
    only where the training text holds the very same characters.
    """
    def codes(s):
        return np.frombuffer(s.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)

    mine, theirs = codes(text), codes(training_text)
    found = np.zeros(max(len(mine) - length + 1, 0), dtype=bool)
    if len(found) and len(theirs) >= length:
        base = np.uint64(0x9E3779B97F4A7C15)
        mine_hashes, their_hashes = _window_hashes(mine, length, base), _window_hashes(theirs, length, base)
        order = np.argsort(their_hashes, kind="stable")
        at = np.minimum(np.searchsorted(their_hashes[order], mine_hashes), len(order) - 1)
        starts = np.flatnonzero(their_hashes[order[at]] == mine_hashes)
        theirs_at = order[at[starts]]
        span = np.arange(length)
        same = np.ones(len(starts), dtype=bool)
        for block in range(0, len(starts), 10_000):            # (10,000, length) at a time
            part = slice(block, block + 10_000)
            same[part] = (mine[starts[part, None] + span] == theirs[theirs_at[part, None] + span]).all(axis=1)
        found[starts[same]] = True
    # Each window found covers its length characters: a difference array, summed.
    edges = np.zeros(len(mine) + 1, dtype=np.int64)
    starts = np.flatnonzero(found)
    np.add.at(edges, starts, 1)
    np.add.at(edges, starts + length, -1)
    covered = int(np.count_nonzero(np.cumsum(edges[:-1])))
    return {"length": length, "chars": covered, "share": covered / len(text) if len(text) else 0.0}


def bits(p):
    """Mean of -log2 p."""
    return float(-np.mean(np.log2(p)))


# ----------------------------------------------------------- the run's texts and the parameters
def run_text(run_dir, status, summary):
    """The whole text a finished run read (its training text is the first summary["n_train"]
    characters), checked against the sha256 it recorded.

    Raises:
        corpus.CorpusError: the text is gone or changed.
    """
    data_path = Path(summary["data_path"])
    text = corpus.read_text(data_path)
    if train.text_sha256(text) != status.get("text_sha256"):
        text = corpus.read_text(data_path, keep_carriage_returns=True)
        if train.text_sha256(text) != status.get("text_sha256"):
            raise corpus.CorpusError(f"{data_path} is not the text run_dir {run_dir} was trained on "
                                     f"(its sha256 differs)")
    return text


def holds_out(summary):
    """Whether a run held text out of training (a held-out play, or a tail by val_fraction)."""
    return bool(summary.get("heldout")) or summary["n_train"] < summary["n_chars"]


def run_texts(run_dir, status, summary, text_file=None):
    """(training text, passage text, its name, what messages call it) of a finished run.

    The passage is read from text_file when one is given (the notebook's text_path), else from
    the run's validation chunk, held-out play or held-out tail. The training text is what the run
    trained on: without its validation chunk, when it set one aside.
    Raises:
        corpus.CorpusError: the run's text is gone or changed, text_file cannot be read, or
            (no text_file) the run holds nothing out.
    """
    if summary.get("records"):
        raise corpus.CorpusError(f"run_dir {run_dir} is a record-mode run: inside.ipynb reads stream-mode runs")
    data_path = Path(summary["data_path"])
    text = run_text(run_dir, status, summary)
    training = text[:summary["n_train"]]
    piece = parts.validation_piece(summary["n_train"], summary.get("chunks"), summary.get("val_chunk"))
    if piece is not None:
        start, end = piece
        training = training[:start] + training[end:]
    if text_file is not None:
        return training, corpus.read_text(text_file), Path(text_file).name, f"text_path {text_file}"
    if piece is not None:
        name = f"the {summary['heldout']['name']}"
        return training, text[start:end], name, name
    if summary.get("heldout"):
        try:
            path = sidecar.heldout_path(data_path)
        except sidecar.PrepareError as err:
            raise corpus.CorpusError(str(err)) from None
        held = corpus.read_text(path) if path is not None else None
        if held is None or train.text_sha256(held) != status.get("heldout_sha256"):
            raise corpus.CorpusError(f"the held-out text of {data_path} is gone or not the one run_dir {run_dir} "
                                     f"was measured on: make corpus remakes it, or give text_path")
        name = f"the held-out play ({path.name})"
        return training, held, name, name
    if summary["n_train"] < len(text):
        name = f"the held-out last {len(text) - summary['n_train']:,} characters"
        return training, text[summary["n_train"]:], name, name
    raise corpus.CorpusError(f"run_dir {run_dir} held no text out of training (val_fraction 0, no held-out play): "
                             f"give text_path, a text it never saw")


def passage(text, vocab, chars, what):
    """The first chars characters of text, encoded, or a one-line error naming the parameter."""
    if chars > len(text):
        raise checks.ParameterError(f"chars={chars:,} is more than {what} holds ({len(text):,} characters): "
                                    f"give chars of at most {len(text)}")
    if chars < MAX_K + 2:
        raise checks.ParameterError(f"chars must be at least {MAX_K + 2} (the gradient reach looks "
                                    f"{MAX_K} characters back), got {chars}")
    return text[:chars], corpus.encode(text[:chars], vocab, what=what)


# ----------------------------------------------------------- the analysis
def analyse(params, init, vocab, training_text, text, x, ngram_max, stretch_start, stretch_len=480,
            guess_len=48, heatmap_len=60):
    """Everything inside.json holds (see ``write``), computed for the passage text (encoded as x)."""
    H, P = forward(params, x)
    H0, P0 = forward(init, x)
    vanilla = network.cell_of(params) == "rnn"
    states, states_init = H[1:], H0[1:]
    p_next = P[np.arange(len(x) - 1), x[1:]]
    kinds = position_kinds(text)
    fitted = ngram.KneserNey(corpus.encode(training_text, vocab), len(vocab), ngram_max)
    seen = seen_in_training(training_text, text)
    ngram_p = {n: fitted.probabilities(x, n) for n in range(1, ngram_max + 1)}
    feats = features(text)
    shuffler = np.random.default_rng(SHUFFLE_SEED)
    units = []
    for name in FEATURES:
        unit, r = best_unit(states, feats[name])
        init_unit, r_init = best_unit(states_init, feats[name])
        shuffled_unit, r_shuffled = best_unit(states, shuffler.permutation(feats[name]))
        units.append({"feature": name, "unit": unit, "r": r, "init_unit": init_unit, "r_init": r_init,
                      "shuffled_unit": shuffled_unit, "r_shuffled": r_shuffled,
                      "mean": float(np.mean(feats[name]))})
    positions = reach_positions(len(x)) if vanilla else np.empty(0, dtype=np.int64)
    if vanilla:
        reach = gradient_reach(params, x, H, P, positions)
        reach_init = gradient_reach(init, x, H0, P0, positions)
    by_kind = []
    for i, kind in enumerate(KINDS):
        where = kinds == i
        if where.any():
            by_kind.append({"kind": kind, "positions": int(where.sum()), "rnn": bits(p_next[where]),
                            "ngram": {str(n): bits(p[where]) for n, p in ngram_p.items()}})
    stop = stretch_start + stretch_len
    return {
        "chars": len(x), "text_sha256": train.text_sha256(text),
        "rnn_bits_per_char": bits(p_next), "init_bits_per_char": bits(P0[np.arange(len(x) - 1), x[1:]]),
        "ngram": [{"n": n, "bits_per_char": bits(p), "discounts": fitted.discounts(n)} for n, p in ngram_p.items()],
        "by_kind": by_kind, "seen_in_training": seen,
        "units": units,
        "network": network.describe(params),
        "gradient_reach": [{"k": k, "trained": float(a), "init": float(b)}
                           for k, (a, b) in enumerate(zip(reach, reach_init))] if vanilla else None,
        "reach_positions": len(positions),
        "mean_tanh_slope": float(np.mean(1.0 - states * states)) if vanilla else None,
        "singular_values": {"trained": np.linalg.svd(params["W"], compute_uv=False).tolist(),
                            "init": np.linalg.svd(init["W"], compute_uv=False).tolist()} if vanilla else None,
        # What the figures draw: a stretch of the passage and the numbers behind its colours.
        "stretch": {"start": stretch_start, "text": text[stretch_start:stop],
                    "p": p_next[stretch_start - 1:stop - 1].tolist(),
                    "units": {str(u["unit"]): states[stretch_start:stop, u["unit"]].tolist()
                              for u in units}},
        "guesses": {"start": stretch_start, "text": text[stretch_start:stretch_start + guess_len],
                    "top": [top_guesses(P, t - 1, vocab)
                            for t in range(stretch_start, stretch_start + guess_len)]},
        "heatmap": {"start": stretch_start, "text": text[stretch_start:stretch_start + heatmap_len],
                    "states": states[stretch_start:stretch_start + heatmap_len].T.tolist()},
    }


def two_readings(params, x, shown=2000):
    """One model reading the passage twice from h = 0, from its first character and from its second.

    Returns {"bits_first", "bits_second"} (bits per character of each reading, the second
    predicting characters 2 onwards), "explained" (the share of variance of both readings' states
    on their first two principal axes), "first" and "second" (the first ``shown`` states of each
    reading on those axes, as [pc1 list, pc2 list]), and "gap" (after each of the first ``shown``
    characters that both have read, the distance between the two readings' states).
    """
    H_first, P_first = forward(params, x)
    H_second, P_second = forward(params, x[1:])
    first, second = H_first[2:].copy(), H_second[1:].copy()      # both after characters 1, 2, ...
    both = np.vstack([first, second])
    centre = both.mean(axis=0)
    _, spread, axes = np.linalg.svd(both - centre, full_matrices=False)

    def project(states):
        return ((states[:shown] - centre) @ axes[:2].T).T.tolist()

    return {"bits_first": bits(P_first[np.arange(len(x) - 1), x[1:]]),
            "bits_second": bits(P_second[np.arange(len(x) - 2), x[2:]]),
            "explained": (spread[:2] ** 2 / np.sum(spread ** 2)).tolist(),
            "first": project(first), "second": project(second),
            "gap": np.linalg.norm(first[:shown] - second[:shown], axis=1).tolist()}


def outlier_readings(seed_dirs, text):
    """two_readings of the best model of each seed run whose held-out figure is far from the others'
    (lib.report.spread.held_out_outliers, the report's own rule), with its "seed", "run_dir" and "heldout_bpc"."""
    from lib.report.spread import held_out_outliers
    from lib.training import checkpoint, run_folder

    seed_dirs = [Path(d) for d in seed_dirs]
    for folder in seed_dirs:
        try:
            run_folder.require_finished(folder)
        except run_folder.RunFolderError as err:
            raise run_folder.RunFolderError(f"seed_dirs: {err}") from None
    summaries = [run_files.read_summary(folder) for folder in seed_dirs]
    held = [(s.get("heldout") or {}).get("best_bpc") for s in summaries]
    if len(seed_dirs) < 2 or None in held:
        return []
    found = []
    for i in held_out_outliers(held):
        params, vocab, _ = checkpoint.load_model(seed_dirs[i] / checkpoint.BEST_MODEL)
        x = corpus.encode(text, vocab, what=f"the passage (for seed {summaries[i]['seed']})")
        found.append({"seed": summaries[i]["seed"], "run_dir": str(seed_dirs[i]), "heldout_bpc": held[i],
                      **two_readings(params, x)})
    return found


def stretch_start(text, after=1000):
    """Where the figures' stretch begins: the first line start at or after position `after` (1 at least)."""
    at = text.find("\n", min(after, max(len(text) - 600, 0)))
    return max(1, at + 1) if at >= 0 and at + 1 < len(text) else 1


# ----------------------------------------------------------- the run file
def write(out_dir, result, **facts):
    """inside.json: analyse's result and the facts of where it came from (run_dir, best_step, ...)."""
    run_files.write_json(Path(out_dir) / FILE, dict(facts, **result))


def read(folder):
    """inside.json of folder; run_files.ArtifactError names it when missing or malformed."""
    data = run_files.read_json(Path(folder) / FILE, REQUIRED)
    names = [u.get("feature") for u in data["units"]] if isinstance(data["units"], list) else None
    if names is None or any(f not in names for f in FEATURES[:7]) or not all(
            isinstance(e.get(k), (int, float)) for e in data["ngram"] for k in ("n", "bits_per_char")):
        raise run_files.ArtifactError(f"malformed run file {Path(folder) / FILE}: units or ngram incomplete")
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in
               [data["rnn_bits_per_char"]] + [e["bits_per_char"] for e in data["ngram"]]
               + [u[k] for u in data["units"] for k in ("r", "r_init", "r_shuffled")]):
        raise run_files.ArtifactError(f"malformed run file {Path(folder) / FILE}: a figure that is not a number")
    return data
