"""Atomic .npz files of named arrays plus JSON metadata, loaded without pickle.

A file holds the caller's arrays and one extra entry, ``__meta__``: a 0-d
unicode array with the JSON text of the metadata. Writes go to a temporary file
in the destination folder and are moved into place with ``os.replace``, so a
crash at any moment leaves either the old file or the new one, never half of one.
"""

import json
import zipfile
from pathlib import Path

import numpy as np

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
