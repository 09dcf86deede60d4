"""Atomic file writes: a temporary file in the destination folder, then os.replace.

A crash at any moment leaves the old file or the new one, never half of one. The
result gets the usual permissions (0666 less the umask), not mkstemp's 0600, so
run folders can be shared.

Windows refuses to replace or delete a file that another program holds open (Excel on
history.csv, a PDF viewer on report.pdf, a second notebook reading status.json, an
antivirus or OneDrive scanning a file just written): ``replace`` and ``remove`` try again
for a moment, then end in a WriteError naming the file, and the file is left as it was.
"""

import os
import tempfile
import time
from pathlib import Path

# The pauses between tries of a replace or removal that Windows refused (about 2 s in all):
# long enough for a scanner or a reader that opened the file for an instant to let go.
RETRY_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.5, 0.75)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class OneLine:
    """An error a user's mistake or the user's machine causes, shown by Jupyter as its one line.

    IPython (JupyterLab, papermill's kernel) shows what ``_render_traceback_`` returns in place
    of the traceback: the message names the problem and what to do, and a traceback through lib/
    in front of it would only hide that line (papermill prints the same line last, as it prints
    a traceback's). Mixed in before the error's own base: ``class ParameterError(OneLine, ValueError)``;
    a full disk's WriteError is one, and so is every error of a bad setting, text or folder.
    """

    def _render_traceback_(self):
        return [f"{type(self).__name__}: {self}"]


class WriteError(OneLine, OSError):
    """A file that could not be written (disk full, read-only folder); the message names it."""

    def __str__(self):
        return self.strerror


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
        from lib import paths  # (a CHARRNN_HOME that names a file, or a folder that takes none, is named)

        blocking = next((folder for folder in path.parents if folder.exists() and not folder.is_dir()), None)
        why = err.strerror if blocking is None else f"{blocking} is a file, not a folder"
        raise paths.home_error(path.parent, err) or WriteError(err.errno, f"could not write {path}: {why}") from None
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError) and not isinstance(err, WriteError):
            raise WriteError(err.errno, f"could not write {path}: {err.strerror or err}") from None
        raise


def _retried(action, path, verb):
    """action(), tried again after each of RETRY_PAUSES while the system says PermissionError."""
    for pause in (*RETRY_PAUSES, None):
        try:
            return action()
        except PermissionError as err:
            if pause is None:
                raise WriteError(err.errno, f"could not {verb} {path}: {err.strerror or err}, still after "
                                            f"{sum(RETRY_PAUSES):g} s of trying (another program may hold it "
                                            f"open: a viewer, a spreadsheet, an antivirus or a sync tool; "
                                            f"close it and try again)") from None
            time.sleep(pause)


def replace(source, target):
    """os.replace(source, target), waiting out a program that holds either open for a moment.

    Raises:
        WriteError: still refused after RETRY_PAUSES; the message names target. Nothing changed.
    """
    _retried(lambda: os.replace(source, target), target, "replace")


def remove(path):
    """Delete the file path if it exists, waiting out a program that holds it open for a moment.

    Raises:
        WriteError: still refused after RETRY_PAUSES; the message names path, which is still there.
    """
    _retried(lambda: Path(path).unlink(missing_ok=True), path, "remove")


def save_figure(fig, out_dir, stem):
    """Save fig as stem.png and stem.pdf in out_dir, each atomically like every run file
    (a full disk ends in atomic.WriteError naming the file, and leaves no part of one)."""
    for ext in ("png", "pdf"):
        atomic_write(Path(out_dir) / f"{stem}.{ext}",
                     lambda f, ext=ext: fig.savefig(f, format=ext, dpi=150, bbox_inches="tight"))
