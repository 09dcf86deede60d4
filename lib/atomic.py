"""Atomic file writes: a temporary file in the destination folder, then os.replace.

A crash at any moment leaves the old file or the new one, never half of one. The
result gets the usual permissions (0666 less the umask), not mkstemp's 0600, so
run folders can be shared.
"""

import os
import tempfile
from pathlib import Path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class WriteError(OSError):
    """A file that could not be written (disk full, read-only folder); the message names it."""

    def __str__(self):
        return self.strerror

    def _render_traceback_(self):
        # IPython (Jupyter, papermill) shows these lines in place of a traceback: a full disk
        # is named in one line there too.
        return [f"{type(self).__name__}: {self}"]


def atomic_write(path, write, binary=True):
    """Call write(f) on a temporary file beside path, then move it into place.

    Raises:
        WriteError: the folder or disk refused (the message names path, not the temporary file);
            the previous file at path, if any, is untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise WriteError(err.errno, f"could not write {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise WriteError(err.errno, f"could not write {path}: {err.strerror or err}") from None
        raise


def save_figure(fig, out_dir, stem):
    """Save fig as stem.png and stem.pdf in out_dir, each atomically like every run file
    (a full disk ends in atomic.WriteError naming the file, and leaves no part of one)."""
    for ext in ("png", "pdf"):
        atomic_write(Path(out_dir) / f"{stem}.{ext}",
                     lambda f, ext=ext: fig.savefig(f, format=ext, dpi=150, bbox_inches="tight"))
