"""Record mode (lib.records): reading, the per-record walk and its order, held-out bits, sampling,
resume after SIGKILL, the run's identity, bad input."""

import json
import math
import random
import signal
import subprocess
import sys

import numpy as np
import pytest

import test_lifecycle as lifecycle
from lib import paths, rnn, rnn_fast
from lib.records import record_files, record_sampling, record_walk, speeches
from lib.text import corpus
from lib.training import checkpoint, run_files, run_folder, runner, train

NAMES = ("anna", "bob", "carl", "dora", "emil", "fia", "gustav", "hedda", "ivar", "jon", "karin",
         "lars", "maja", "nils", "olle", "petra")
TOY = dict(m=6, log_every=5, synth_every=40, synth_len=30, checkpoint_every=40, seq_length=5)


def toy_records(n=120, seed=3):
    """Short lines of names: records of 3 to 30 characters."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(NAMES) for _ in range(rng.randint(1, 4))) for _ in range(n)]


@pytest.fixture
def records_file(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("\n".join(toy_records()) + "\n", encoding="utf-8")
    return path


def plan(path, out, **extra):
    return runner.plan(**dict(dict(data_path=str(path), out_dir=str(out), records=True, **TOY), **extra))


def record_mode(run):
    return record_walk.record_mode(run["records"]["boundary"], {"records": True}, run["records"]["facts"])


# ----------------------------------------------------------------- reading

def test_each_format_gives_the_same_records(tmp_path):
    texts = ["Who's there?", "Nay, answer me:\nstand.", "Long live the king!"]
    (tmp_path / "a.txt").write_text("Who's there?\n\n   \nLong live the king!\n", encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(texts), encoding="utf-8")
    (tmp_path / "c.json").write_text(json.dumps([{"who": "x", "body": t} for t in texts] + [{"body": ""}]),
                                     encoding="utf-8")
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": t}) + "\n\n" for t in texts), encoding="utf-8")
    lines = record_files.read_records(tmp_path / "a.txt")
    assert lines["records"] == [texts[0], texts[2]] and lines["empty"] == 2 and lines["format"] == "lines"
    assert record_files.read_records(tmp_path / "b.json")["records"] == texts
    objects = record_files.read_records(tmp_path / "c.json", record_field="body")
    assert objects["records"] == texts and objects["empty"] == 1
    assert record_files.read_records(tmp_path / "d.jsonl")["records"] == texts


def test_records_are_cut_and_the_boundary_is_new():
    kept, longer = record_files.cut(["abcdef", "abc", "x" * 9], 4)
    assert kept == ["abcd", "abc", "xxxx"] and longer == 2
    assert record_files.choose_boundary(["a\x1eb", "c"]) == "\x1f"
    text = record_files.join(["ab", "c"], "\x1e")
    assert text == "\x1eab\x1ec\x1e" and record_files.split_records(text, "\x1e") == ["ab", "c"]
    assert record_files.visible("a\nb\x1e", "\x1e") == "a↵b¶"
    assert record_files.visible("¶\n\x1e", "\x1e", vocab="¶\n\x1e") == "¶↵§"


@pytest.mark.parametrize("name, content, field, message", [
    ("a.json", '[{"text": "hi"}, {"body": "x"}]', "text",
     "a.json: record 2 (line 1) has no field 'text' (record_field='text'; its fields: 'body')"),
    ("a.json", '[\n"fine",\n{"text": 3}\n]', "text",
     "a.json: record 2 (line 3): field 'text' is a number, not a string"),
    ("a.json", '["x", 5]', "text", "a.json: record 2 (line 1) is a number, expected a string or an object"),
    ("a.json", '{"text": "x"}', "text", "a.json: expected a JSON array of strings or of objects, got an object"),
    ("a.json", '[\n"a",\n"b"\n"c"\n]', "text", "a.json: invalid JSON (Expecting ',' delimiter: line 4, column 1)"),
    ("a.jsonl", '{"text": "a"}\n{"text": "b"\n', "text",
     "a.jsonl: line 2 is not valid JSON (Expecting ',' delimiter: line 2, column 13)"),
    # the decoder's whole reason, with where (issue 17, case 13): not just "Unterminated string starting at"
    ("a.jsonl", '{"text": "a"}\n{"text": "b\n', "text",
     "a.jsonl: line 2 is not valid JSON (Unterminated string starting at: line 2, column 10)"),
    ("a.json", '[\n"a",\n  "b', "text", "a.json: invalid JSON (Unterminated string starting at: line 3, column 3)"),
    ("a.jsonl", '{"text": "a"}\n{"title": "b"}\n', "text", "a.jsonl: line 2 has no field 'text'"),
    ("a.jsonl", '{"text": "a"}\n{"text": null}\n', "text", "a.jsonl: line 2: field 'text' is null, not a string"),
    ("a.txt", "\n  \n\n", "text", "a.txt: no non-empty record (3 records, all blank)"),
    ("a.json", '["", " "]', "text", "a.json: no non-empty record (2 records, all blank)"),
    ("a.json", '["x"]', "", "record_field must be a non-empty string, got ''"),
])
def test_bad_input_is_one_line_naming_the_file(tmp_path, name, content, field, message):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(record_files.RecordsError) as info:
        record_files.read_records(tmp_path / name, record_field=field)
    assert message in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(corpus.CorpusError) as info:  # the notebook's route: checked before any work
        runner.plan(data_path=str(tmp_path / name), out_dir=str(tmp_path / "out"), records=True,
                          record_field=field)
    assert message in str(info.value)
    assert not (tmp_path / "out").exists()


def test_val_fraction_must_leave_records_on_both_sides():
    with pytest.raises(record_files.RecordsError,
                       match=r"holds out no record of 5: use at least 0.2 \(one record\), or 0"):
        record_walk.held_out_count(5, 0.05)
    assert record_walk.held_out_count(5, 0.2) == 1 and record_walk.held_out_count(5, 0.0) == 0
    with pytest.raises(record_files.RecordsError,
                       match="holds out all 2 records: none left to train on; use at most 0.5"):
        record_walk.held_out_count(2, 0.9)
    assert record_walk.held_out_count(2, 0.5) == 1  # the bounds the messages suggest do work
    assert record_walk.held_out_count(5, 1 / 5) == 1 and record_walk.held_out_count(2, 1 / 2) == 1


@pytest.mark.parametrize("val_fraction", [0.5, 0.9])
def test_one_record_with_a_val_fraction_says_what_would_work(tmp_path, val_fraction):
    one = tmp_path / "one.txt"
    one.write_text("a single line\n", encoding="utf-8")
    with pytest.raises(corpus.CorpusError) as info:
        runner.plan(data_path=str(one), out_dir=str(tmp_path / "out"), records=True, val_fraction=val_fraction)
    message = str(info.value)
    assert f"val_fraction={val_fraction} needs at least 2 records" in message and "there is 1" in message
    assert "add records, or use val_fraction 0" in message and "larger" not in message
    assert not (tmp_path / "out").exists()
    assert runner.plan(data_path=str(one), out_dir=None, records=True, val_fraction=0.0)["records"]


# ----------------------------------------------------------------- the walk

def test_each_epoch_visits_every_training_record_once_in_a_seeded_order():
    recs = toy_records(40)
    text = record_files.join(recs, "\x1e")
    vocab = corpus.build_vocab(text)
    data = corpus.encode(text, vocab)
    starts, pairs = record_walk.layout(data, vocab.index("\x1e"))
    assert pairs.tolist() == [len(r) + 1 for r in recs]
    orders = [record_walk.epoch_order(7, e, len(recs)) for e in (1, 2)]
    assert orders[0].tolist() == record_walk.epoch_order(7, 1, len(recs)).tolist()  # reproducible
    assert orders[0].tolist() != orders[1].tolist() != list(range(len(recs)))  # shuffled anew each epoch
    assert record_walk.epoch_order(8, 1, len(recs)).tolist() != orders[0].tolist()  # drawn from the seed
    chunk_starts, lengths, resets = record_walk.record_chunks(starts, pairs, 4, orders[0])
    assert len(chunk_starts) == record_walk.steps_per_epoch(pairs, 4) == sum(-(-p // 4) for p in pairs)
    walked = []
    for s, n, r in zip(chunk_starts, lengths, resets):
        if r:
            walked.append([])
        walked[-1].extend(range(s, s + n))
    # each record's inputs, from its opening boundary to its last character, in the epoch's order
    assert walked == [list(range(starts[i], starts[i] + pairs[i])) for i in orders[0]]
    assert lengths.max() == 4 and data[chunk_starts[resets]].tolist() == [vocab.index("\x1e")] * len(recs)


def test_hidden_state_is_zero_at_each_record_start_and_carried_within(records_file, monkeypatch):
    run = plan(records_file, None, epochs=2)
    boundary_index = run["vocab"].index(run["records"]["boundary"])
    calls = []
    real = rnn_fast.loss_and_grads  # the training path (lib.rnn_fast.FlatModel calls it)

    def spy(params, x, y, h0, grads=None, work=None, loss="sum"):
        loss, grads, h_last = real(params, x, y, h0, grads, work, loss)
        calls.append((x.copy(), np.array(h0), h_last.copy()))
        return loss, grads, h_last

    monkeypatch.setattr(rnn_fast, "loss_and_grads", spy)
    p = run["parameters"]
    train.train(run["text"], None, record_mode=record_mode(run), **{k: p[k] for k in train.SETTING_KINDS})
    assert len(calls) == run["planned_steps"]
    for previous, (x, h0, _) in zip([None] + calls[:-1], calls):
        if x[0] == boundary_index:
            assert not h0.any()  # a record's first chunk starts from zero
        else:
            assert h0.tobytes() == previous[2].tobytes()  # the rest carry the state of the chunk before
            assert boundary_index not in x


def test_a_records_loss_does_not_depend_on_the_record_before(tmp_path):
    """With a vanishing learning rate the model stays fixed: changing the first record changes
    only the losses of that record's chunks, wherever the shuffle puts it."""
    recs = toy_records(30)
    other = list(recs)
    other[0] = "".join(reversed(recs[0])).replace(" ", "a")
    losses = []
    for i, rs in enumerate((recs, other)):
        path = tmp_path / f"{i}.txt"
        path.write_text("\n".join(rs), encoding="utf-8")
        run = plan(path, None, epochs=2, eta=1e-300, log_every=1, m=8)
        p = run["parameters"]
        state = train.train(run["text"], None, record_mode=record_mode(run), **{k: p[k] for k in train.SETTING_KINDS})
        losses.append(np.array(state["history"]["loss"]))
    text = record_files.join(recs, "\x1e")
    data = corpus.encode(text, corpus.build_vocab(text))
    starts, pairs = record_walk.layout(data, corpus.build_vocab(text).index("\x1e"))
    first_record = np.concatenate([record_walk.record_chunks(starts, pairs, TOY["seq_length"],
                                                         record_walk.epoch_order(0, e, len(recs)))[0] < starts[1]
                                   for e in (1, 2)])
    assert (losses[0][first_record] != losses[1][first_record]).all()
    assert losses[0][~first_record].tobytes() == losses[1][~first_record].tobytes()
    assert (~first_record).sum() > 0.9 * len(first_record)


def test_stream_mode_is_untouched_by_record_mode(english_text):
    # the stream walk: one reset at the epoch's start, every chunk seq_length long
    starts, lengths, resets = train.stream_chunks(101, 10)
    assert resets.tolist() == [True] + [False] * 9 and set(lengths.tolist()) == {10}
    assert starts.tolist() == list(range(0, 100, 10))


# ----------------------------------------------------------------- held-out bits

def _independent_bits(params, held_out, vocab, boundary):
    """Bits per character of each record and its closing boundary, from h = 0, one character at a time."""
    b, c, U, W, V = (params[k] for k in ("b", "c", "U", "W", "V"))
    total, count = 0.0, 0
    for rec in held_out:
        h = np.zeros(W.shape[0])
        seq = [boundary] + list(rec) + [boundary]
        for prev, nxt in zip(seq[:-1], seq[1:]):
            h = np.tanh(W @ h + U[:, vocab.index(prev)] + b)
            o = V @ h + c
            p = np.exp(o - o.max())
            total -= math.log2(p[vocab.index(nxt)] / p.sum())
            count += 1
    return total / count


def test_held_out_bits_equal_an_independent_computation(records_file, tmp_path):
    out = tmp_path / "run"
    run = plan(records_file, out, epochs=2, val_fraction=0.25)
    steps = run["planned_steps"]
    runner.execute(plan(records_file, out, epochs=2, val_fraction=0.25, eval_every=steps), progress=None)
    params, vocab, meta = checkpoint.load_model(out / "last.npz")
    recs = toy_records()
    held_out = recs[-30:]  # the last quarter of 120, in file order
    assert run_files.read_summary(out)["records"]["n_val_records"] == 30
    expected = _independent_bits(params, held_out, vocab, "\x1e")
    assert run_files.read_history(out)["val_bpc"][-1] == pytest.approx(expected, rel=1e-12)
    assert run_files.read_summary(out)["final_val_bpc"] == pytest.approx(expected, rel=1e-12)
    # the bigram baseline, counted by hand on the training records
    pairs = [(a, b) for r in recs[:-30] for a, b in zip("\x1e" + r, r + "\x1e")]
    counts, K = {}, len(vocab)
    for pair in pairs:
        counts[pair] = counts.get(pair, 0) + 1
    follow = {}
    for (a, _), n in counts.items():
        follow[a] = follow.get(a, 0) + n
    test_pairs = [(a, b) for r in held_out for a, b in zip("\x1e" + r, r + "\x1e")]
    bigram = -sum(math.log2((counts.get(p, 0) + 1) / (follow.get(p[0], 0) + K)) for p in test_pairs) / len(test_pairs)
    data = corpus.encode(run["text"], vocab)
    split = record_walk.split_text(run["text"], "\x1e", 0.25)
    bits = record_walk.bigram_bits(data[:split], data[split - 1:], vocab.index("\x1e"), K)
    assert bits == pytest.approx(bigram, rel=1e-12)


# ----------------------------------------------------------------- sampling

def _params_favouring(vocab, index, K, m=4, strength=50.0):
    rng = np.random.default_rng(0)
    params = rnn.init_params(K, m, 0.1, rng)
    params["c"][index] += strength
    return params


def test_sampling_stops_at_the_boundary_and_at_the_cap():
    vocab = list("\x1eabc")
    always_end = _params_favouring(vocab, 0, 4)
    assert record_sampling.sample_records(always_end, vocab, "\x1e", 5, seed=1, max_len=10) == [""] * 5
    never_end = _params_favouring(vocab, 0, 4, strength=-50.0)
    drawn = record_sampling.sample_records(never_end, vocab, "\x1e", 5, seed=1, max_len=7)
    assert [len(r) for r in drawn] == [7] * 5 and all(set(r) <= set("abc") for r in drawn)
    mixed = rnn.init_params(4, 4, 0.1, np.random.default_rng(1))
    drawn = record_sampling.sample_records(mixed, vocab, "\x1e", 200, seed=2, max_len=6)
    lengths = [len(r) for r in drawn]
    assert "\x1e" not in "".join(drawn) and max(lengths) == 6 and min(lengths) < 6  # both ends happen
    assert drawn == record_sampling.sample_records(mixed, vocab, "\x1e", 200, seed=2, max_len=6)
    with pytest.raises(record_files.RecordsError, match="boundary 'x' is not in the model's vocabulary"):
        record_sampling.sample_records(mixed, vocab, "x", 1, 0)


def test_model_file_says_it_is_a_record_model(records_file, tmp_path):
    out = tmp_path / "run"
    runner.execute(plan(records_file, out, max_steps=40), progress=None)
    params, vocab, meta = checkpoint.load_model(out / "best.npz")
    assert record_sampling.is_record_model(meta) and meta["boundary"] == "\x1e" and meta["max_record_len"] == 140
    assert "\x1e" in vocab and not record_sampling.is_record_model({"vocab": "ab"})
    drawn = record_sampling.sample_records(params, vocab, meta["boundary"], 3, 0, meta["max_record_len"])
    assert len(drawn) == 3 and all(len(r) <= 140 for r in drawn)


# ----------------------------------------------------------------- the run's lifecycle

@lifecycle.needs_sigkill
def test_sigkill_and_resume_is_bitwise_the_uninterrupted_run(records_file, tmp_path):
    out = tmp_path / "run"
    parameters = dict(data_path=str(records_file), out_dir=str(out), records=True, epochs=3, **TOY)
    total = runner.plan(**parameters)["planned_steps"]
    # the first checkpoint in the middle of the second epoch; the worker sleeps after it and is killed there
    parameters["checkpoint_every"] = total // 2 + 7
    proc = lifecycle.worker(parameters, 30)
    lifecycle.wait_for(lambda: (out / "last.npz").exists())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert run_folder.folder_state(out)[0] == "interrupted"
    killed_at = checkpoint.load(out / "last.npz")[1]["step"]
    assert killed_at == total // 2 + 7 and checkpoint.load(out / "last.npz")[1]["epoch"] == 2
    result = runner.execute(runner.plan(**parameters), progress=None)
    assert result["action"] == "continue" and result["trained_from"] == killed_at
    whole = tmp_path / "whole"
    runner.execute(runner.plan(**dict(parameters, out_dir=str(whole))), progress=None)
    lifecycle.same_arrays(out / "last.npz", whole / "last.npz")
    assert run_files.read_history(out) == run_files.read_history(whole)
    assert run_files.read_samples(out) == run_files.read_samples(whole)
    assert run_files.read_summary(out)["epoch_starts"] == run_files.read_summary(whole)["epoch_starts"]


def test_record_settings_are_part_of_the_runs_identity(records_file, tmp_path):
    out = tmp_path / "run"
    runner.execute(plan(records_file, out, max_steps=40), progress=None)
    with pytest.raises(run_folder.RunFolderError, match="max_record_len=140 there, 10 now"):
        runner.execute(plan(records_file, out, max_steps=40, max_record_len=10), progress=None)
    with pytest.raises(run_folder.RunFolderError, match="records=True there, False now"):
        runner.execute(plan(records_file, out, max_steps=40, records=False), progress=None)
    assert runner.execute(plan(records_file, out, max_steps=40), progress=None)["action"] == "reuse"
    base = runner.resolve(dict(runner.DEFAULTS, records=True))[0]
    assert runner.default_out_dir(base, "data/names.txt").name == "train_10ep_names_records"
    assert runner.default_out_dir(dict(base, max_record_len=80, record_field="body"), None).name == \
        "train_10ep_records_len80_fieldbody"
    assert runner.default_out_dir(dict(base, records=False), None).name == "train_10ep"


# ----------------------------------------------------------------- the demonstration

PLAY = ("Hamlet\n\nACT I\n\nSCENE I. Elsinore.\n\nFRANCISCO at his post. Enter to him BERNARDO\n\n"
        "BERNARDO\nWho's there?\n\nLADY MACBETH\nOut, damned spot!\nOut, I say!\n\n"
        "HAMLET\n" + "words " * 30 + "\n\nExeunt\n\nMARCELLUS & BERNARDO\nAy.\n")


def test_shakespeare_speeches_leave_out_speakers_and_long_speeches():
    short = speeches.shakespeare_speeches(PLAY, max_len=140)
    assert [s["text"] for s in short] == ["Who's there?", "Out, damned spot!\nOut, I say!", "Ay."]
    assert [s["speaker"] for s in short] == ["BERNARDO", "LADY MACBETH", "MARCELLUS & BERNARDO"]


def test_the_speeches_command_writes_json_lines(tmp_path):
    """python -m lib.records speeches CORPUS OUT [MAX_LEN], as make's bonus stage runs it."""
    play, out = tmp_path / "play.txt", tmp_path / "speeches.jsonl"
    play.write_text(PLAY, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "lib.records", "speeches", str(play), str(out), "12"],
                          capture_output=True, text=True, cwd=paths.REPO_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}: 2 speeches of at most 12 characters from {play}\n"
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert written == [{"speaker": "BERNARDO", "text": "Who's there?"},
                       {"speaker": "MARCELLUS & BERNARDO", "text": "Ay."}]
    wrong = subprocess.run([sys.executable, "-m", "lib.records", "speech", str(play)], capture_output=True, text=True,
                           cwd=paths.REPO_ROOT, timeout=120)
    assert wrong.returncode == 2 and wrong.stderr.startswith("usage: python -m lib.records speeches")


# ----------------------------------------------------------------- notebook and report

def test_train_notebook_in_record_mode_shows_records_one_per_line(records_file, tmp_path):
    from nbrun import ok, papermill

    from lib import paths
    from lib.records import record_report

    out = tmp_path / "run"
    ok(papermill(paths.REPO_ROOT / "notebooks" / "train.ipynb", tmp_path / "t.ipynb", tmp_path,
                 ("data_path", records_file), ("out_dir", out), ("records", True), ("epochs", 2), ("m", 6),
                 ("seq_length", 5), ("val_fraction", 0.25), ("eval_every", 100), ("synth_every", 100)))
    cells = {c["id"]: c for c in json.loads((tmp_path / "t.ipynb").read_text())["cells"]}
    described = "".join(cells["cell-03"]["outputs"][0]["text"])
    assert "record mode (lines): 120 records (90 to train on, the last 30 held out)" in described
    shown = "".join(cells["cell-11"]["outputs"][0]["text"]).splitlines()
    assert len(shown) == 20 and not any("\x1e" in line for line in shown)
    samples = "".join(cells["cell-07"]["outputs"][0]["text"])
    assert "¶" in samples and "\x1e" not in samples
    bonus = record_report.load(out)
    held = record_report.held_out(bonus)
    params, _, _ = checkpoint.load_model(out / "best.npz")
    assert held["rnn_best"] == record_walk.heldout_bits(params, bonus["val_data"], bonus["vocab"].index("\x1e"))
    assert held["n_chars"] == sum(len(r) + 1 for r in toy_records()[-30:])
    fig, caption = record_report.length_figure(bonus, n=50)
    assert "Lengths of 50 speeches generated" in caption
    records_file.write_text("\n".join(reversed(toy_records())), encoding="utf-8")
    with pytest.raises(run_files.ArtifactError, match="has changed since"):
        record_report.load(out)
