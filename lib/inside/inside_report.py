"""What inside.json says, as tables and sentences, for inside.ipynb and the report's section 5."""

from pathlib import Path

from lib.inside import analysis
from lib.inside.analysis import FEATURE_WORDS
from lib.training import run_files


def load(run_dir, summary):
    """run_dir's inside.json if it is there (None if not), checked to be of this run's best model."""
    if not (run_dir / analysis.FILE).is_file():
        return None
    data = analysis.read(run_dir)
    if data.get("best_step") != summary["best_step"]:
        raise run_files.ArtifactError(f"{run_dir / analysis.FILE} is from another model (best step "
                                 f"{data.get('best_step')}) than {run_dir / 'summary.json'} (best step "
                                 f"{summary['best_step']}): rerun notebooks/inside.ipynb")
    return data


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
    return (f"This report has no look inside the network: {Path(run_dir) / analysis.FILE} is not there. `make report` "
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
            "; ".join(f"*{name}*, {FEATURE_WORDS[name]}" for name in analysis.FEATURES) + ". "
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
                 "character just read: " + ", ".join(f"{u['feature']} (r = {u['r_init']:+.2f})" for u in at_init)
                 + "; a "
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


def seen_text(data):
    """What share of the passage repeats the training text, or "" when none (or inside.json predates the count)."""
    seen = data.get("seen_in_training")
    if not seen or not seen["chars"]:
        return ""
    share = f"{seen['share']:.1%}" if seen["share"] >= 0.001 else "under 0.1%"     # not "0.0%" of it
    return (f"{share} of this passage ({seen['chars']:,} of {data['chars']:,} characters) lies in "
            f"strings of {seen['length']} or more characters that the training text holds too")


def ngram_text(data):
    best = min(data["ngram"], key=lambda e: e["bits_per_char"])
    rnn = data["rnn_bits_per_char"]
    top = str(max(e["n"] for e in data["ngram"]))
    seen = data.get("seen_in_training")
    if seen and seen["share"] >= analysis.SEEN_SHARE:
        # The n-grams count the training text's strings: on a passage that repeats it they recall, not predict.
        return (f"No comparison here: {seen_text(data)}, so the n-gram models, which count the training text's "
                f"strings, are read on text they have memorised (the {best['n']}-gram's "
                f"{best['bits_per_char']:.3f} bits per character against the RNN's {rnn:.3f} says nothing about "
                f"either). Give text_path a text the run never saw.")
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
    overlap = f" ({seen_text(data)}.)" if seen_text(data) else ""
    return (f"Character n-gram models fitted on the run's training text, each predicting from the last n − 1 "
            f"characters (fewer at the start), interpolated Kneser-Ney with one discount per order. "
            f"{verdict}. {where}{overlap}")


def reach_text(data):
    if data.get("gradient_reach") is None:
        from lib.inside.analysis import VANILLA_ONLY
        return VANILLA_ONLY
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
