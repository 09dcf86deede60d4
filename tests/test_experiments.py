"""The report's section on the bonus experiments (lib/report/experiments.py) and make's runs for it."""

import re
import subprocess
from pathlib import Path

import matplotlib
import pytest

from lib import paths
from lib.report import experiments
from lib.training import settings as training_settings
from lib.training.run_files import ArtifactError

matplotlib.use("Agg")


def fake_run(name, seed, best, final=None, us=300.0, batch_size=1, order="sequential", optimizer="adagrad", eta=0.1,
             curve=None):
    steps = [2000, 4000, 6000]
    curve = curve or [best + 0.4, best + 0.1, best]
    summary = {"protocol": "2021", "data_path": "/t.txt", "n_chars": 1000, "m": 100, "seq_length": 25,
               "loss": "sum", "chunks": 10, "val_chunk": 9, "steps": 6000, "eval_every": 2000, "seed": seed,
               "order": order, "batch_size": batch_size, "optimizer": optimizer, "eta": eta,
               "final_smooth_loss": 50.0 + seed, "us_per_step": us,
               "heldout": {"name": "validation chunk 9 of 10", "chars": 110936, "best_bpc": best,
                           "final_bpc": final if final is not None else best}}
    history = {"step": steps, "epoch": [1, 1, 1], "loss": [60.0] * 3, "smooth_loss": [70.0, 60.0, 55.0],
               "val_bpc": curve}
    return {"dir": Path(name) / f"seed{seed}", "seed": seed, "summary": summary, "history": history}


def fake_settings(**best_by_setting):
    """{setting: [runs]} with each setting's seeds' best validation figures as given (others 3.2)."""
    out = {}
    kinds = {"order-chunks": {"order": "chunks"}, "order-random": {"order": "random"},
             "batch-8": {"batch_size": 8, "us": 900.0}, "batch-32": {"batch_size": 32, "us": 3000.0},
             "other-optimizer": {"optimizer": "adam", "eta": 0.001}}
    for names in experiments.COMPARISONS.values():
        for name in names:
            values = best_by_setting.get(name.replace("-", "_"), (3.2, 3.21, 3.19))
            out[name] = [fake_run(name, seed, v, **kinds.get(name, {})) for seed, v in enumerate(values)]
    return out


def test_a_setting_is_better_only_when_every_seed_is():
    s = fake_settings(order_random=(3.30, 3.31, 3.29), order_chunks=(3.10, 3.11, 3.09), batch_8=(3.18, 3.25, 3.2))
    assert experiments.compare(s, "order-random", "order-sequential") == "higher"
    assert experiments.compare(s, "order-chunks", "order-sequential") == "lower"
    assert experiments.compare(s, "batch-8", "order-sequential") == "overlap"
    words = experiments.verdict(s, "order")
    assert "*chunks*" in words and "better" in words and "worse" in words
    assert "0.100 bits/char" in words  # the mean gap, computed: 3.2 - 3.1
    assert "do not tell them apart" in experiments.verdict(s, "batch")


def test_two_seeds_draw_no_conclusion():
    s = fake_settings(batch_32=(2.9, 2.91))
    assert experiments.compare(s, "batch-32", "order-sequential") == "too few seeds"
    assert "fewer than 3 seeds" in experiments.verdict(s, "batch")


def test_table_gives_each_settings_mean_and_range():
    s = fake_settings(batch_32=(2.9, 3.0, 3.1))
    table = experiments.table(s, "batch")
    row = next(line for line in table.splitlines() if "B = 32" in line)
    assert row.startswith("| B = 32 | 3.000 (2.900–3.100) |")
    assert row.endswith("| 3000 (3000–3000) |")
    assert "nats per 25-character sequence" in experiments.caption(s, "batch")


def test_sooner_counts_updates_and_cpu_seconds():
    s = fake_settings()
    s["batch-32"] = [fake_run("batch-32", seed, 2.9, batch_size=32, us=3000.0, curve=[3.0, 2.95, 2.9])
                     for seed in range(3)]
    text = experiments.sooner(s, "batch", within=0.05)
    # The baseline's lowest mean reading is 3.2; B = 32 is within 0.05 of it at its first reading.
    assert "*B = 32* after 2,000 updates (6.0 CPU seconds)" in text


def test_figure_draws_a_line_per_setting():
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3)
    experiments.figure(fake_settings(), "batch", axes)
    assert [len(ax.lines) for ax in axes] == [3, 3, 3]
    plt.close(fig)


def test_speed_text_words_what_was_measured():
    s = fake_settings()
    speed = {"timings": {"sum": None}, "plain": {"sum": {"plain": 8e-4, "fast": 2e-4, "plain_over_fast": 4.0}}}
    text = experiments.speed_text(s, speed)
    assert "800 µs" in text and "(4.0x)" in text and "PyTorch was not installed" in text
    assert f"{32 * 25 / 3000e-6:,.0f} characters per CPU second" in text
    assert f"({(32 * 25 / 3000e-6) / (25 / 300e-6):.2f}x B = 1)" in text
    assert "holds no timing of the equations" in experiments.speed_text(s, None)


def test_load_refuses_runs_that_do_not_share_their_setup(monkeypatch, tmp_path):
    s = fake_settings()
    s["order-random"][1]["summary"]["val_chunk"] = 3
    for name in s:
        for run in s[name]:
            (tmp_path / name / f"seed{run['seed']}").mkdir(parents=True)
    by_dir = {(tmp_path / name / f"seed{run['seed']}"): run for name in s for run in s[name]}
    monkeypatch.setattr(experiments, "_load_run", lambda folder: dict(by_dir[folder], dir=folder))
    with pytest.raises(ArtifactError, match=r"order-random/seed1/summary.json has val_chunk = 3"):
        experiments.load(tmp_path)
    s["order-random"][1]["summary"]["val_chunk"] = 9
    assert len(experiments.load(tmp_path)["batch-32"]) == 3
    assert experiments.load(None) is None


def test_load_names_a_missing_setting(tmp_path):
    with pytest.raises(ArtifactError, match="no runs of the bonus experiment 'order-sequential'"):
        experiments.load(tmp_path)


def make_dry_run(tmp_path, *args):
    done = subprocess.run(["make", "--no-print-directory", "-n", "-C", str(paths.REPO_ROOT), "runs",
                           f"RUNS={tmp_path}", *args], capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if "/bonus/" in line and "lib.jupyter.stage" in line]


@pytest.mark.parametrize("protocol", ["2021", "2026"])
def test_make_trains_every_setting_for_every_seed(tmp_path, protocol):
    lines = make_dry_run(tmp_path, f"PROTOCOL={protocol}", "BONUS_SEEDS=0 1 2")
    assert len(lines) == 6 * 3
    other = "2026" if protocol == "2021" else "2021"
    handout = training_settings.PROTOCOLS[other]
    for line in lines:
        setting = re.search(r"/bonus/([a-z0-9-]+)/seed", line).group(1)
        assert f"-p protocol {protocol} " in line and "-p chunks 10 -p val_chunk 9 -p max_steps 12000" in line
        expected = {"order-sequential": "-p order sequential -p chunks", "order-chunks": "-p order chunks ",
                    "order-random": "-p order random ", "batch-8": "-p batch_size 8 ", "batch-32": "-p batch_size 32 ",
                    "other-optimizer": f"-p optimizer {handout['optimizer']} -p eta {handout['eta']:g} "}[setting]
        assert expected in line, (setting, line)
    assert sorted(experiments.COMPARISONS["order"] + experiments.COMPARISONS["batch"][1:]
                  + experiments.COMPARISONS["optimizer"][1:]) == sorted({re.search(
                      r"/bonus/([a-z0-9-]+)/seed", line).group(1) for line in lines})


def test_the_equations_are_timed_against_the_fast_path_only_when_they_agree(monkeypatch):
    import numpy as np

    from lib import rnn, speed
    rng = np.random.default_rng(0)
    params = rnn.init_params(7, 5, 0.1, rng)
    data = rng.integers(0, 7, 101)
    chunks = [(data[i:i + 10], data[i + 1:i + 11]) for i in range(0, 90, 10)]
    timed = speed.plain_against_fast(params, chunks, np.zeros(5), "mean", reps=2)
    assert timed["plain"] > 0 and timed["plain_over_fast"] == timed["plain"] / timed["fast"]
    real = rnn.loss_and_grads

    def wrong(*args, **kwargs):
        loss, grads, h = real(*args, **kwargs)
        return loss, dict(grads, W=grads["W"] * 1.01), h
    monkeypatch.setattr(rnn, "loss_and_grads", wrong)
    with pytest.raises(AssertionError, match="W gradient differs"):
        speed.plain_against_fast(params, chunks, np.zeros(5), "mean", reps=2)
