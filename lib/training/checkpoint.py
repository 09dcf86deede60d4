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

from lib import checks, network
from lib.atomic import OneLine, atomic_write
from lib.training import parts
from lib.training import settings as table

META_KEY = "__meta__"


class CheckpointError(OneLine, ValueError):
    """A checkpoint that is missing, unreadable, or does not fit the run.

    ``reason`` is what is wrong without the file's name ("corrupt or truncated (...)"),
    for a caller that words the message its own way.
    """

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.reason = message if reason is None else reason


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
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}", "no such file")
    if not path.is_file():  # np.load would wait on a pipe for ever, or read a device without end
        raise CheckpointError(f"checkpoint {path} is not a regular file (a folder, device or pipe)",
                              "not a regular file: a folder, device or pipe")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with loaded as z:
            arrays = {k: z[k] for k in z.files}
    # zipfile raises NotImplementedError for a damaged header's version or compression fields.
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, NotImplementedError) as err:
        reason = "not an .npz archive" if "pickled" in str(err) else str(err)
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({reason})",
                              f"corrupt or truncated: {reason}") from None
    if META_KEY not in arrays:
        raise CheckpointError(f"checkpoint {path} has no metadata: not written by this project",
                              "no metadata: not written by this project")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except ValueError as err:
        raise CheckpointError(f"checkpoint {path} has corrupt metadata ({err})",
                              f"corrupt metadata: {err}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {path} has corrupt metadata (not a JSON object)",
                              "corrupt metadata: not a JSON object")
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

FORMAT_VERSION = 3
LAST_CHECKPOINT = "last.npz"
BEST_MODEL = "best.npz"
PARAM_GROUPS = (("param_", "params"), ("best_", "best_params"))
# The optimizer's arrays (lib.training.parts: AdaGrad's memory M, Adam's moments m and v).
OPTIMIZER_PREFIXES = {"M": "adagrad_", "m": "adam_m_", "v": "adam_v_"}
HISTORY_KEYS = ("step", "epoch", "loss", "smooth_loss", "val_bpc")
# Scalars and small JSON values of a training state, kept in the metadata.
STATE_META = ("vocab", "settings", "text_sha256", "n_chars", "n_train", "data_path", "step",
              "epoch", "chunk", "smooth_loss", "best_step", "best_smooth_loss", "sample_rng_state",
              "samples", "epoch_ends", "wall_seconds", "loop_seconds")


def save_state(path, state):
    """Write the whole training state to path atomically (see ``save``)."""
    arrays = {}
    for prefix, key in PARAM_GROUPS:
        for name in state[key]:
            arrays[prefix + name] = state[key][name]
    for group, views in state["optimizer"]["arrays"].items():
        for name in views:
            arrays[OPTIMIZER_PREFIXES[group] + name] = views[name]
    arrays["h_prev"] = state["h_prev"]
    for key in HISTORY_KEYS:
        dtype = np.int64 if key in ("step", "epoch") else np.float64
        arrays["history_" + key] = np.asarray(state["history"][key], dtype=dtype)
    arrays["epoch_starts"] = np.asarray(state["epoch_starts"], dtype=np.int64)
    meta = {k: state[k] for k in STATE_META}
    meta.update(format=FORMAT_VERSION, kind="checkpoint", optimizer_t=state["optimizer"]["t"],
                network=network.describe(state["params"]))
    save(path, arrays, meta)


def save_model(path, params, vocab, meta):
    """Write a model file: the parameters (lib/rnn.py's b, c, U, W, V, or a gated network's), the
    vocabulary, meta and the network they make (lib.network.describe), which loading checks."""
    meta = dict(meta, format=FORMAT_VERSION, kind="model", vocab="".join(vocab), network=network.describe(params))
    save(path, dict(params), meta)


def load_model(path):
    """Read a model file (or the current parameters of a checkpoint), checked for use.

    Every entry point that samples reads models here, so a file that would sample
    garbage is refused once for all of them: metadata of the wrong kind, parameters
    that are not numbers, of the wrong shapes, non-finite, or so large that the
    forward pass or the logits divided by the smallest temperature allowed
    (``checks.MIN_TEMPERATURE``) would overflow.

    Returns:
        (params, vocab, meta): dict of float64 arrays, list of characters, dict.
    Raises:
        CheckpointError: one line, "not a model file: FILE (what is wrong)" or
            "not a usable model: FILE has ...".
    """
    path = Path(path)
    try:
        arrays, meta = load(path)
    except CheckpointError as err:
        raise CheckpointError(f"not a model file: {path} ({err.reason})") from None

    def refuse(reason):
        raise CheckpointError(f"not a model file: {path} ({reason})")

    kind = meta.get("kind")
    if kind not in ("model", "checkpoint"):
        refuse("metadata lacks 'kind'" if kind is None else f"its kind is {kind!r}, not 'model' or 'checkpoint'")
    vocab = meta.get("vocab")
    if not isinstance(vocab, str) or not vocab:
        refuse("metadata lacks 'vocab'" if vocab is None else
               f"its vocab is {checks.describe(vocab)}, expected a non-empty string of the model's characters")
    if len(set(vocab)) != len(vocab):
        refuse("its vocab repeats characters")
    prefix = "param_" if kind == "checkpoint" else ""
    cell, layers = _network_named(meta, refuse)
    V = arrays.get(prefix + "V")
    if V is None:
        refuse(f"array {prefix + 'V'!r} missing")
    if V.ndim != 2:
        refuse(f"V has shape {V.shape}, expected (K, m)")
    W = arrays.get(prefix + "W")
    if cell == "rnn" and W is not None and W.ndim != 2:
        refuse(f"W has shape {W.shape}, expected (m, m)")
    K, m = len(vocab), V.shape[1]
    shapes = network.param_shapes(cell, K, m, layers)
    params = {}
    for name in shapes:
        array = arrays.get(prefix + name)
        if array is None:
            refuse(f"array {prefix + name!r} missing" + ("" if "network" in meta else
                                                          " (a file that names no network holds the vanilla cell)"))
        if array.dtype.kind not in "iuf":
            refuse(f"parameter {name} is stored as {_dtype_words(array.dtype)}, not real numbers")
        params[name] = np.asarray(array, dtype=np.float64)
    for name, shape in shapes.items():
        if params[name].shape != shape:
            refuse(f"{name} has shape {params[name].shape}, expected {shape} for K={K}, m={m}")
    _check_record_meta(meta, vocab, refuse)
    # What the sampling command and best_model.ipynb print of the metadata.
    for key, kinds, wanted in (("step", int, "a non-negative integer"), ("smooth_loss", (int, float), "a number")):
        value = meta.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds) or
                                  key == "step" and value < 0):
            refuse(f"its {key} is {value!r}, expected {wanted}")
    _check_usable(path, params)
    return params, list(vocab), meta


def _network_named(meta, refuse):
    """(cell, layers) of the network a file's metadata names; the vanilla cell's when it names none (a file
    written before networks were recorded)."""
    named = meta.get("network")
    if named is None:
        return "rnn", 1
    if not isinstance(named, dict) or named.get("cell") not in network.CELLS:
        refuse(f"its network is {checks.describe(named)}, expected a cell among {', '.join(network.CELLS)}")
    layers = named.get("layers", 1)
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1 or named["cell"] == "rnn" and layers != 1:
        refuse(f"its network's layers is {layers!r}, not a positive integer its cell allows")
    return named["cell"], layers


def _dtype_words(dtype):
    return {"U": "strings", "S": "bytes", "b": "booleans", "c": "complex numbers"}.get(dtype.kind, str(dtype))


def _check_record_meta(meta, vocab, refuse):
    """A record-mode model's metadata (lib.records): a boundary in the vocabulary and a record cap."""
    flag = meta.get("records", False)
    if flag is False:
        return
    if flag is not True:
        refuse(f"its records is {flag!r}, expected true or false")
    boundary, cap = meta.get("boundary"), meta.get("max_record_len")
    if not (isinstance(boundary, str) and len(boundary) == 1 and boundary in vocab):
        refuse(f"records: true, but its boundary {boundary!r} is not one character of its vocab")
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        refuse(f"records: true, but its max_record_len is {cap!r}, not a positive integer")


# How large a logit divided by the smallest temperature, or a hidden pre-activation, may
# become: far below float64's largest number (1.8e308), so that differences of two stay finite.
LARGEST_SAFE = 1e300


def _check_usable(path, params):
    """Raise CheckpointError when sampling from params could meet nan or inf.

    Every hidden value stays within [-1, 1] (a tanh, or for the gated cells a gate times a tanh, or a
    mix of such), and the input is one-hot, so a pre-activation is at most max_i (|b_i| + sum_j |W_ij|)
    in size for each weight matrix W and its bias b (lib/rnn.py's U and W together; a GRU's bn with
    its W), and a logit V h + c at most max_k (|c_k| + sum_j |V_kj|): when every bound, the logits'
    divided by the smallest temperature, stays below LARGEST_SAFE, every step of a draw is finite.
    """
    bad = [name for name in params if not np.isfinite(params[name]).all()]
    if bad:
        raise CheckpointError(f"not a usable model: {path} has non-finite parameters (nan or inf in "
                              f"{', '.join(bad)})")
    with np.errstate(over="ignore"):
        if network.cell_of(params) == "rnn":
            hidden = (np.abs(params["b"]) + np.abs(params["U"]).max(axis=1, initial=0.0)
                      + np.abs(params["W"]).sum(axis=1)).max(initial=0.0)
        else:
            hidden = max((np.abs(params[f"b{l}"]) + np.abs(params[f"W{l}"]).sum(axis=0)).max(initial=0.0)
                         + (np.abs(params[f"bn{l}"]).max(initial=0.0) if f"bn{l}" in params else 0.0)
                         for l in range(1, network.layers_of(params) + 1))
        logit = (np.abs(params["c"]) + np.abs(params["V"]).sum(axis=1)).max(initial=0.0)
    if not (hidden < LARGEST_SAFE and logit / checks.MIN_TEMPERATURE < LARGEST_SAFE):
        raise CheckpointError(f"not a usable model: {path} has parameters too large to compute with "
                              f"(a pre-activation could reach {hidden:.3g}, a logit {logit:.3g})")


def _check_shapes(path, params, shapes, K, m):
    for name, shape in shapes.items():
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
    saved = table.with_later_defaults(meta["settings"])
    settings = saved if settings is None else settings
    differ = [f"{k}={saved.get(k)!r} there, {v!r} now" for k, v in settings.items() if saved.get(k) != v]
    if differ:
        raise CheckpointError(f"checkpoint {path} has other settings: " + "; ".join(differ))
    groups = parts.optimizer_groups(saved)
    prefixes = [p for p, _ in PARAM_GROUPS] + [OPTIMIZER_PREFIXES[g] for g in groups]
    K, m = len(vocab), settings["m"]
    shapes = network.param_shapes(saved["cell"], K, m, saved["layers"])
    require(path, meta, arrays, meta_keys=("optimizer_t",),
            array_keys=[p + n for p in prefixes for n in shapes] + ["h_prev", "epoch_starts"] +
            ["history_" + k for k in HISTORY_KEYS])
    state = dict(meta)
    for prefix, key in PARAM_GROUPS:
        state[key] = {n: arrays[prefix + n] for n in shapes}
        _check_shapes(path, state[key], shapes, K, m)
    state["optimizer"] = {"t": meta["optimizer_t"], "arrays": {}}
    for group in groups:
        state["optimizer"]["arrays"][group] = {n: arrays[OPTIMIZER_PREFIXES[group] + n] for n in shapes}
        _check_shapes(path, state["optimizer"]["arrays"][group], shapes, K, m)
    batch = settings.get("batch_size", 1)
    # One hidden state per stream of a batch (lib.network.pack_state: a gated network's stacked).
    h_shape = network.packed_state_shape(saved["cell"], saved["layers"], m, batch)
    if arrays["h_prev"].shape != h_shape:
        raise CheckpointError(f"checkpoint {path}: h_prev has shape {arrays['h_prev'].shape}, expected {h_shape}")
    state["h_prev"] = arrays["h_prev"]
    state["history"] = {k: arrays["history_" + k].tolist() for k in HISTORY_KEYS}
    state["epoch_starts"] = arrays["epoch_starts"].tolist()
    return state
