"""The project's files of arrays: atomic .npz plus JSON metadata, loaded without pickle.

A file holds the caller's arrays and one extra entry, ``__meta__``: a 0-d
unicode array with the JSON text of the metadata. Writes go to a temporary file
in the destination folder and are moved into place with ``os.replace``, so a
crash at any moment leaves either the old file or the new one, never half of one.
"""

import json
import zipfile
from pathlib import Path

import numpy as np

from . import rnn
from .atomic import atomic_write

META_KEY = "__meta__"


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or does not fit the run."""


def save(path, arrays, meta):
    """Write arrays (dict of name -> ndarray) and JSON-able meta to path atomically."""
    payload = dict(arrays)
    payload[META_KEY] = np.array(json.dumps(meta, allow_nan=False))
    atomic_write(path, lambda f: np.savez(f, **payload))


def load(path):
    """Read a file written by ``save``: returns (arrays, meta).

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, or lacks metadata.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with loaded as z:
            arrays = {k: z[k] for k in z.files}
    # zipfile raises NotImplementedError for a damaged header's version or compression fields.
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, NotImplementedError) as err:
        reason = "not an .npz archive" if "pickled" in str(err) else str(err)
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({reason})") from None
    if META_KEY not in arrays:
        raise CheckpointError(f"checkpoint {path} has no metadata: not written by this project")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except ValueError as err:
        raise CheckpointError(f"checkpoint {path} has corrupt metadata ({err})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {path} has corrupt metadata (not a JSON object)")
    return arrays, meta


def require(path, meta, arrays, meta_keys=(), array_keys=()):
    """Raise CheckpointError naming the first of meta_keys/array_keys that is absent."""
    for key in meta_keys:
        if key not in meta:
            raise CheckpointError(f"checkpoint {path} is incomplete: metadata lacks {key!r}")
    for key in array_keys:
        if key not in arrays:
            raise CheckpointError(f"checkpoint {path} is incomplete: array {key!r} missing")


# ----------------------------------------------------------- the project's two file kinds
# A training checkpoint (kind "checkpoint") holds the whole state of a run, enough to
# continue it bitwise; a model file (kind "model") holds parameters and vocabulary only.

FORMAT_VERSION = 2
LAST_CHECKPOINT = "last.npz"
BEST_MODEL = "best.npz"
PARAM_GROUPS = (("param_", "params"), ("adagrad_", "M"), ("best_", "best_params"))
HISTORY_KEYS = ("step", "epoch", "loss", "smooth_loss", "val_bpc")
# Scalars and small JSON values of a training state, kept in the metadata.
STATE_META = ("vocab", "settings", "text_sha256", "n_chars", "n_train", "data_path", "step",
              "epoch", "chunk", "smooth_loss", "best_step", "best_smooth_loss", "sample_rng_state",
              "samples", "epoch_ends", "wall_seconds", "loop_seconds")


def save_state(path, state):
    """Write the whole training state to path atomically (see ``save``)."""
    arrays = {}
    for prefix, key in PARAM_GROUPS:
        for name in rnn.PARAM_NAMES:
            arrays[prefix + name] = state[key][name]
    arrays["h_prev"] = state["h_prev"]
    for key in HISTORY_KEYS:
        dtype = np.int64 if key in ("step", "epoch") else np.float64
        arrays["history_" + key] = np.asarray(state["history"][key], dtype=dtype)
    arrays["epoch_starts"] = np.asarray(state["epoch_starts"], dtype=np.int64)
    meta = {k: state[k] for k in STATE_META}
    meta.update(format=FORMAT_VERSION, kind="checkpoint")
    save(path, arrays, meta)


def save_model(path, params, vocab, meta):
    """Write a model file: parameters b, c, U, W, V, the vocabulary and meta."""
    meta = dict(meta, format=FORMAT_VERSION, kind="model", vocab="".join(vocab))
    save(path, {name: params[name] for name in rnn.PARAM_NAMES}, meta)


def load_model(path):
    """Read a model file (or the current parameters of a checkpoint).

    Returns:
        (params, vocab, meta): dict of arrays, list of characters, dict.
    """
    arrays, meta = load(path)
    require(path, meta, arrays, meta_keys=("kind", "vocab"))
    prefix = "param_" if meta["kind"] == "checkpoint" else ""
    require(path, meta, arrays, array_keys=[prefix + n for n in rnn.PARAM_NAMES])
    params = {n: arrays[prefix + n] for n in rnn.PARAM_NAMES}
    vocab = list(meta["vocab"])
    _check_shapes(path, params, len(vocab), params["W"].shape[0])
    return params, vocab, meta


def _check_shapes(path, params, K, m):
    for name, shape in rnn.param_shapes(K, m).items():
        if params[name].shape != shape:
            raise CheckpointError(f"checkpoint {path}: {name} has shape {params[name].shape}, "
                                  f"expected {shape} for K={K}, m={m}")


def load_state(path, vocab, text_hash, settings=None):
    """Read a checkpoint and check that it belongs to this text and these settings.

    Args:
        vocab: list of characters; text_hash: sha256 of the training text;
        settings: dict of the run settings (every key must match the checkpoint's);
            None takes the checkpoint's own (a snapshot read back by the run that wrote it).
    Raises:
        CheckpointError: unreadable, or its vocabulary, text, shapes or
            settings differ from the ones given (the message says which).
    """
    arrays, meta = load(path)
    require(path, meta, arrays, meta_keys=("format", "kind") + STATE_META)
    if meta["kind"] != "checkpoint":
        raise CheckpointError(f"{path} is a {meta['kind']} file, not a training checkpoint")
    if meta["format"] != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format {meta['format']}, this version reads "
                              f"{FORMAT_VERSION}: train afresh (retrain=True)")
    saved_vocab = list(meta["vocab"])
    if saved_vocab != list(vocab):
        only_ckpt = "".join(sorted(set(saved_vocab) - set(vocab)))
        only_text = "".join(sorted(set(vocab) - set(saved_vocab)))
        raise CheckpointError(
            f"checkpoint {path} was trained on a different vocabulary: K={len(saved_vocab)} there, "
            f"K={len(vocab)} in the corpus; only in checkpoint: {only_ckpt!r}, only in corpus: {only_text!r}")
    if meta["text_sha256"] != text_hash:
        raise CheckpointError(
            f"checkpoint {path} was trained on a different text ({meta['n_chars']} characters, "
            f"sha256 {meta['text_sha256'][:12]}...) than the one given")
    settings = meta["settings"] if settings is None else settings
    differ = [f"{k}={meta['settings'].get(k)!r} there, {v!r} now"
              for k, v in settings.items() if meta["settings"].get(k) != v]
    if differ:
        raise CheckpointError(f"checkpoint {path} has other settings: " + "; ".join(differ))
    names = [p + n for p, _ in PARAM_GROUPS for n in rnn.PARAM_NAMES]
    require(path, meta, arrays, array_keys=names + ["h_prev", "epoch_starts"] +
            ["history_" + k for k in HISTORY_KEYS])
    K, m = len(vocab), settings["m"]
    state = dict(meta)
    for prefix, key in PARAM_GROUPS:
        state[key] = {n: arrays[prefix + n] for n in rnn.PARAM_NAMES}
        _check_shapes(path, state[key], K, m)
    if arrays["h_prev"].shape != (m,):
        raise CheckpointError(f"checkpoint {path}: h_prev has shape {arrays['h_prev'].shape}, expected ({m},)")
    state["h_prev"] = arrays["h_prev"]
    state["history"] = {k: arrays["history_" + k].tolist() for k in HISTORY_KEYS}
    state["epoch_starts"] = arrays["epoch_starts"].tolist()
    return state
