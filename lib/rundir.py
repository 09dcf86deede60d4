"""A training run folder's lifecycle: new, running, interrupted or finished.

* ``status.json`` says which state the folder is in, with the run's settings,
  and is written atomically at every change of state.
* ``.lock`` is claimed with ``flock`` before anything else happens to the
  folder. The operating system drops the lock when its process ends, however
  it ends, so a lock that can be taken while status.json says "running" means
  the run was interrupted; the lock file also names its holder (pid, host) for
  the message a second claimant gets.
* While a run is running or interrupted, nothing derived from its end is left
  in the folder (``DERIVED``): those files are removed when training starts
  and rewritten when it finishes.
"""

import errno
import fcntl
import json
import os
import shutil
import socket
import time
from datetime import datetime, timezone
from pathlib import Path

from .atomic import atomic_write

STATUS = "status.json"
LOCK = ".lock"
# Files that describe a run's end: never present while it is unfinished.
DERIVED = ("summary.json", "history.csv", "samples.jsonl", "loss.png", "loss.pdf",
           "evolution.json", "passage.json", "text_evolution.ipynb", "best_model.ipynb",
           "inside.json", "inside.ipynb") + tuple(
    f"inside_{what}.{ext}" for what in ("certainty", "guesses", "units", "heatmap", "reach", "outliers") for ext in ("png", "pdf"))
# Files that only a run of this project writes: a folder holding one without
# status.json is not a run folder this version can manage.
RUN_FILES = ("last.npz", "best.npz", "summary.json")


class RunFolderError(RuntimeError):
    """A run folder that cannot be used as asked; the message names it and says what to do."""


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _holder_text(info):
    if not info:
        return "another process"
    return f"process {info.get('pid')} on {info.get('host')} (since {info.get('since')})"


class Claim:
    """The exclusive right to train in a folder, held until ``release`` (or process exit)."""

    def __init__(self, folder, fd, previous_holder):
        self.folder = folder
        self.fd = fd
        self.previous_holder = previous_holder  # the dead process whose lock was taken over, if any

    def release(self):
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)  # an empty lock file: released cleanly
        except OSError:
            pass
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _read_lock(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        info = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except ValueError:
        info = None
    return info if isinstance(info, dict) else None


def claim(folder):
    """Take the folder for this process, atomically, before anything is computed.

    Creates the folder if needed, removes temporary files left by killed writes,
    and returns a Claim. Raises RunFolderError when another live process holds
    it, or the folder cannot be created or written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise RunFolderError(f"out_dir {folder} cannot be used: {err.strerror or err}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            os.close(fd)
            raise RunFolderError(f"out_dir {folder} cannot be locked: {err.strerror}") from None
        holder = None
        for _ in range(20):  # the winner writes its name right after taking the lock
            holder = _read_lock(fd)
            if holder:
                break
            time.sleep(0.01)
        os.close(fd)
        raise RunFolderError(f"out_dir {folder} is being trained by {_holder_text(holder)}: wait for it "
                             f"to finish, or choose another out_dir (nothing was touched)")
    previous = _read_lock(fd)
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(mine).encode("utf-8"))
    except OSError as err:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        raise RunFolderError(f"out_dir {folder} is not writable: {err.strerror}") from None
    for tmp in folder.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    return Claim(folder, fd, previous)


def read_status(folder):
    """status.json as a dict, or None when the folder has none."""
    path = Path(folder) / STATUS
    if not path.is_file():
        return None
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RunFolderError(f"{path} is unreadable ({err}): move the folder aside and train again") from None
    if not isinstance(status, dict) or status.get("state") not in ("running", "finished"):
        raise RunFolderError(f"{path} is not a run status written by this project")
    return status


def write_status(folder, state, **facts):
    """Record the folder's state ("running" or "finished") with the run's facts, atomically."""
    status = dict(facts, state=state, updated_at=_now())
    atomic_write(Path(folder) / STATUS,
                 lambda f: f.write(json.dumps(status, indent=2, ensure_ascii=False) + "\n"), binary=False)
    return status


def lock_is_held(folder):
    """Whether a live process holds the folder's lock (tries it without waiting)."""
    path = Path(folder) / LOCK
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def folder_state(folder):
    """(state, status): state is "new", "running", "interrupted" or "finished"."""
    folder = Path(folder)
    status = read_status(folder)
    if status is None:
        foreign = [name for name in RUN_FILES if (folder / name).exists()]
        if foreign:
            raise RunFolderError(f"out_dir {folder} holds {', '.join(foreign)} but no {STATUS}: not a run "
                                 f"folder this version manages; choose another out_dir")
        return "new", None
    if status["state"] == "finished":
        return "finished", status
    return ("running" if lock_is_held(folder) else "interrupted"), status


def require_finished(folder):
    """The status of a finished run, or RunFolderError saying what state it is in and what to do."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunFolderError(f"run_dir {folder} does not exist: train it first with notebooks/train.ipynb")
    state, status = folder_state(folder)
    if state == "finished":
        return status
    if state == "new":
        raise RunFolderError(f"run_dir {folder} holds no training run: train it first with notebooks/train.ipynb")
    progress = f"at step {status.get('step', 0):,} of {status.get('planned_steps', 0):,}"
    if state == "running":
        raise RunFolderError(f"run_dir {folder} is still training ({progress}): wait for it to finish")
    raise RunFolderError(f"run_dir {folder} is an unfinished run, interrupted {progress}: run "
                         f"notebooks/train.ipynb again with the same settings to finish it")


def remove_derived(folder):
    """Delete every file that describes the run's end (see DERIVED)."""
    for name in DERIVED:
        (Path(folder) / name).unlink(missing_ok=True)


def remove_run_files(folder):
    """Delete what a run of this project wrote (before a fresh start); other files stay."""
    for name in RUN_FILES + DERIVED + (STATUS,):
        (Path(folder) / name).unlink(missing_ok=True)
    for snapshot in Path(folder).glob("epochs_*"):
        shutil.rmtree(snapshot)


def clear(folder):
    """Delete everything in a folder but its lock (a fresh start in a folder we hold)."""
    for entry in Path(folder).iterdir():
        if entry.name == LOCK:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def aside_folder(folder):
    """Where a run that replaces ``folder`` is built: a hidden sibling."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}.retrain"


def swap_in(aside, folder):
    """Replace folder by aside (both held by the caller): the old run goes only once the new one is in."""
    trash = folder.parent / f".{folder.name}.old-{os.getpid()}"
    os.rename(folder, trash)
    try:
        os.rename(aside, folder)
    except OSError:
        os.rename(trash, folder)
        raise
    shutil.rmtree(trash, ignore_errors=True)
