"""A run folder's machine-readable files: each has one writer and one reader here.

Files (the contract between notebooks, report and tests; ``status.json`` and
the lock belong to ``lib.training.run_folder``, the ``.npz`` files to ``lib.training.checkpoint``):

* ``gradcheck.json``  {"sum": {"3": {"b": {central_max_rel, central_norm_rel,
  complex_max_rel, complex_norm_rel, fast_..., and torch_... where PyTorch ran}, ...},
  "100": {...}}, "mean": {...}}
* ``summary.json``    facts and results of one training run
* ``history.csv``     step, epoch, loss, smooth_loss, val_bpc (empty where not evaluated)
* ``samples.jsonl``   one {"step", "smooth_loss", "text"} per line
* ``evolution.json``  the samples picked for the text-evolution table
* ``passage.json``    the best model's passage, temperature sweep and nucleus (top-p) sweep
"""

import csv
import json
import math
import platform
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from lib.atomic import OneLine, WriteError, atomic_write
from lib.rnn import PARAM_NAMES
from lib.text import sidecar
from lib.training import settings as training_settings

GRADCHECK_KEYS = ("central_max_rel", "central_norm_rel", "complex_max_rel", "complex_norm_rel")
HISTORY_COLUMNS = ("step", "epoch", "loss", "smooth_loss", "val_bpc")
SUMMARY_KEYS = ("data_path", "n_chars", "K", "m", "eta", "seq_length", "sigma", "seed", "epochs",
                "steps", "best_step", "best_smooth_loss", "final_smooth_loss", "us_per_step",
                "wall_seconds")


class ArtifactError(OneLine, ValueError):
    """A run file that is missing or malformed; the message names the file."""


def _atomic_write_text(path, text):
    atomic_write(path, lambda f: f.write(text), binary=False)


def write_json(path, obj):
    """Write obj as indented UTF-8 JSON, atomically."""
    _atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


@contextmanager
def derived_files(folder):
    """Write the files that describe a run's end (run_folder.DERIVED), then its finished status,
    all or none: when any write fails (a full disk, an interrupt) the ones already written are
    removed, so that a folder whose status still says running holds none of them."""
    # Imported here: the gradient check's notebook reads run files without the lock's module.
    from lib.training import run_folder

    try:
        yield
    except BaseException:
        run_folder.remove_derived(folder)
        raise


def read_json(path, required=()):
    """Read a JSON file written by a notebook; ArtifactError names the file if it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"missing run file: {path}")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ArtifactError(f"malformed run file {path}: {err}") from None
    if required:
        if not isinstance(obj, dict):
            raise ArtifactError(f"malformed run file {path}: expected a JSON object")
        missing = [k for k in required if k not in obj]
        if missing:
            raise ArtifactError(f"malformed run file {path}: missing keys {', '.join(missing)}")
    return obj


def library_versions():
    """Versions of Python and the libraries that computed a run."""
    import matplotlib
    import numpy

    return {"python": platform.python_version(), "numpy": numpy.__version__,
            "matplotlib": matplotlib.__version__}


def write_training_run(out_dir, state, epochs, data_path, heldout=None, against_ngrams=None):
    """Write summary.json, history.csv and samples.jsonl for a finished train() state.

    heldout: what the run was evaluated on ({"name", "chars", "best_bpc", "final_bpc"}: the best model's
        and the model's at the end), or None.
    against_ngrams: its held-out readings beside the n-grams' (lib.training.finish.against_ngrams), or None.
    Returns the summary dict.
    """
    out_dir = Path(out_dir)
    settings = state["settings"]
    history = state["history"]
    val = [v for v in history["val_bpc"] if not math.isnan(v)]
    summary = {
        "data_path": str(data_path), "corpus": corpus_label(data_path),
        "n_chars": state["n_chars"], "n_train": state["n_train"],
        "K": len(state["vocab"]), "vocab": state["vocab"], **settings, "epochs": epochs,
        "differing": dict(training_settings.differing(settings)),
        "steps": state["step"], "epochs_done": state["epoch"],
        "steps_per_epoch": state["steps_per_epoch"],
        "epoch_starts": list(state["epoch_starts"]),
        "best_step": state["best_step"], "best_smooth_loss": state["best_smooth_loss"],
        "final_smooth_loss": state["smooth_loss"],
        "final_val_bpc": val[-1] if val else None,
        "heldout": heldout, "against_ngrams": against_ngrams,
        "parameters": int(sum(np.size(v) for v in state["params"].values())),
        "us_per_step": state["timing"]["us_per_step"], "cpu_seconds": state["loop_seconds"],
        "wall_seconds": state["wall_seconds"],
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
    }
    if state.get("records"):  # record mode (lib.records): its facts and boundary
        summary["records"] = state["records"]
    write_json(out_dir / "summary.json", summary)
    lines = [",".join(HISTORY_COLUMNS)]
    for row in zip(*(history[c] for c in HISTORY_COLUMNS)):
        step, epoch, loss, smooth, val_bpc = row
        lines.append(f"{step},{epoch},{loss!r},{smooth!r},{'' if math.isnan(val_bpc) else repr(val_bpc)}")
    _atomic_write_text(out_dir / "history.csv", "\n".join(lines) + "\n")
    _atomic_write_text(out_dir / "samples.jsonl", "".join(
        json.dumps(s, ensure_ascii=False) + "\n" for s in state["samples"]))
    return summary


def corpus_label(data_path):
    """A reader's name for the text: the default corpus says what it is, other files their name."""
    return sidecar.corpus_label(data_path)


def read_summary(run_dir):
    return read_json(Path(run_dir) / "summary.json", SUMMARY_KEYS)


def read_history(run_dir):
    """history.csv as a dict of lists (val_bpc NaN where not evaluated)."""
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        raise ArtifactError(f"missing run file: {path}")
    columns = {c: [] for c in HISTORY_COLUMNS}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != HISTORY_COLUMNS:
                raise ValueError(f"columns {reader.fieldnames}, expected {list(HISTORY_COLUMNS)}")
            for row in reader:
                columns["step"].append(int(row["step"]))
                columns["epoch"].append(int(row["epoch"]))
                columns["loss"].append(float(row["loss"]))
                columns["smooth_loss"].append(float(row["smooth_loss"]))
                columns["val_bpc"].append(float(row["val_bpc"]) if row["val_bpc"] else math.nan)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as err:
        raise ArtifactError(f"malformed run file {path}: {err}") from None
    return columns


def read_samples(run_dir):
    """samples.jsonl as a list of {"step", "smooth_loss", "text"}."""
    path = Path(run_dir) / "samples.jsonl"
    if not path.is_file():
        raise ArtifactError(f"missing run file: {path}")
    samples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            sample = json.loads(line)
            if not all(k in sample for k in ("step", "smooth_loss", "text")):
                raise ValueError("needs step, smooth_loss and text")
        except ValueError as err:
            raise ArtifactError(f"malformed run file {path}, line {number}: {err}") from None
        samples.append(sample)
    return samples


def write_gradcheck(out_dir, results, settings):
    """gradcheck.json (the table) and gradcheck_settings.json (how it was computed)."""
    write_json(Path(out_dir) / "gradcheck.json", results)
    write_json(Path(out_dir) / "gradcheck_settings.json", settings)


def read_gradcheck(out_dir):
    """(results, settings) as write_gradcheck wrote them; ArtifactError names a bad file."""
    path = Path(out_dir) / "gradcheck.json"
    results = read_json(path)
    if not isinstance(results, dict) or not results or not all(isinstance(v, dict) and v for v in results.values()):
        raise ArtifactError(f"malformed run file {path}: expected an object keyed by loss unit, then by m")
    for loss, by_m in results.items():
        for m, table in by_m.items():
            for name in PARAM_NAMES:
                row = table.get(name) if isinstance(table, dict) else None
                if not isinstance(row, dict) or any(not isinstance(row.get(k), (int, float)) for k in GRADCHECK_KEYS):
                    raise ArtifactError(f"malformed run file {path}: loss {loss}, m={m}, parameter {name} "
                                        f"needs numbers {', '.join(GRADCHECK_KEYS)}")
    settings = read_json(Path(out_dir) / "gradcheck_settings.json", ("seq_length", "h", "eps", "sigma", "seed"))
    return results, settings


EVOLUTION_KEYS = ("run_dir", "run_steps", "every", "up_to", "samples")
PASSAGE_KEYS = ("run_dir", "best_step", "best_smooth_loss", "seed", "prime", "passage_len",
                "temperature", "passage", "sweep_len", "sweep", "top_ps", "top_p_sweep")


def _write_notebook_result(path, obj):
    """write_json for a notebook's result, kept in the run folder unless its out_dir says otherwise: a
    folder that cannot be written (a finished run on a read-only disk) is named with the way out."""
    try:
        write_json(path, obj)
    except WriteError as err:
        raise WriteError(err.errno, f"{err}; set the notebook's out_dir to a folder that can be written, "
                                    f"for {path.name}") from None


def write_evolution(out_dir, **fields):
    """evolution.json: the samples picked for the text-evolution table (EVOLUTION_KEYS)."""
    _write_notebook_result(Path(out_dir) / "evolution.json", {k: fields[k] for k in EVOLUTION_KEYS})


def read_evolution(out_dir):
    return read_json(Path(out_dir) / "evolution.json", EVOLUTION_KEYS)


def write_passage(out_dir, **fields):
    """passage.json: the best model's passage, temperature sweep ([{"temperature", "text"}]) and nucleus
    sweep at temperature 1 ([{"top_p", "text"}]) (PASSAGE_KEYS), and the sweeps' measures
    (lib.sample.measures; null when none were taken, absent from files written before them)."""
    _write_notebook_result(Path(out_dir) / "passage.json",
                           dict({k: fields[k] for k in PASSAGE_KEYS}, measures=fields.get("measures")))


def read_passage(out_dir):
    return read_json(Path(out_dir) / "passage.json", PASSAGE_KEYS)
