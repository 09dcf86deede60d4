"""A training run folder's lifecycle: new, running, interrupted or finished.

* ``status.json`` says which state the folder is in, with the run's settings,
  and is written atomically at every change of state.
* ``.lock`` is claimed (``filelock``: flock on Linux and macOS, LockFileEx on
  Windows) before anything else happens to the folder. The operating system
  drops the lock when its process ends, however it ends, so a lock that can be
  taken while status.json says "running" means the run was interrupted. Windows
  lets no other process read a locked file, so the holder (pid, host, since)
  is named in ``.lock-holder.json`` beside it, for the message a second
  claimant gets; an empty one means the last holder let go cleanly.
* While a run is running or interrupted, nothing derived from its end is left
  in the folder (``DERIVED``): those files are removed when training starts
  and rewritten when it finishes.
* A retrain is built in a hidden sibling (``aside_folder``) and swapped in by
  ``swap_in``, which renames single entries and never a folder holding an open
  lock (Windows refuses that). The swap's steps are ordered so that the state
  after a kill at any instant says how to finish it; every claim of the folder,
  and every command that reads it (``settle``), finishes it first.
"""

import json
import os
import shutil
import socket
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
from filelock import FileLock, Timeout

from .atomic import atomic_write

STATUS = "status.json"
LOCK = ".lock"
HOLDER = ".lock-holder.json"
LOCK_FILES = (LOCK, HOLDER)
# Inside a folder while a retrain is swapped in: the old run's entries, gathered in
# REPLACING and renamed REPLACED once all of them are there.
REPLACING, REPLACED = ".replacing", ".replaced"
# Files that describe a run's end: never present while it is unfinished.
DERIVED = ("summary.json", "history.csv", "samples.jsonl", "loss.png", "loss.pdf",
           "evolution.json", "passage.json", "text_evolution.ipynb", "best_model.ipynb",
           "inside.json", "inside.ipynb") + tuple(
    f"inside_{what}.{ext}" for what in ("certainty", "guesses", "units", "heatmap", "reach", "outliers") for ext in ("png", "pdf"))
# Files that only a run of this project writes: a folder holding one without
# status.json is not a run folder this version can manage.
RUN_FILES = ("last.npz", "best.npz", "summary.json")
# How long a refused claimant keeps trying: long enough for a winner to write its name,
# or for a reader that took the lock only to look (lock_is_held) to let go.
NAMING_SECONDS = 1.0
POLL_SECONDS = 0.02
# How long a command that reads a folder waits for a retrain's swap (renames only) to end.
SWAP_WAIT_SECONDS = 10.0


class RunFolderError(RuntimeError):
    """A run folder that cannot be used as asked; the message names it and says what to do."""


class FolderHeld(RunFolderError):
    """Another live process holds the folder (``holder``: its pid, host and since, when known)."""

    def __init__(self, message, holder):
        super().__init__(message)
        self.holder = holder


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _holder_text(info):
    if not info:
        return "another process"
    return f"process {info.get('pid')} on {info.get('host')} (since {info.get('since')})"


def _read_holder(folder):
    """The holder's {"pid", "host", "since"}, or None (none named, or a write caught halfway)."""
    try:
        info = json.loads((Path(folder) / HOLDER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _holder_alive(info):
    """Whether the named holder still runs (one on another host is taken to: it cannot be asked)."""
    if not info:
        return False
    if info.get("host") != socket.gethostname():
        return True
    pid = info.get("pid")
    return isinstance(pid, int) and psutil.pid_exists(pid)


def _folder_lock(folder):
    # preserve_lock_file: the lock file stays on release on Windows too, as it does elsewhere.
    return FileLock(Path(folder) / LOCK, preserve_lock_file=True)


def _acquire(folder, wait):
    """(lock, None) once the folder's lock is ours, or (None, holder) after ``wait`` seconds.

    A refusal waits at least NAMING_SECONDS unless a live holder is named sooner."""
    lock, start = _folder_lock(folder), time.monotonic()
    while True:
        try:
            lock.acquire(timeout=0)
            return lock, None
        except Timeout:
            pass
        holder = _read_holder(folder)
        named = _holder_alive(holder)
        waited = time.monotonic() - start
        if waited >= wait and (named or waited >= NAMING_SECONDS):
            return None, holder if named else None
        time.sleep(POLL_SECONDS)


class Claim:
    """The exclusive right to train in a folder, held until ``release`` (or process exit).

    previous_holder: the dead process whose lock was taken over, if any; settled: the line
    saying what an interrupted retrain left and how it was finished (else None);
    settled_new: True when that put a retrain's new run in."""

    def __init__(self, folder, lock, previous_holder):
        self.folder = folder
        self.lock = lock
        self.previous_holder = previous_holder
        self.settled, self.settled_new = None, False

    def release(self):
        if self.lock is None:
            return
        try:
            (self.folder / HOLDER).write_text("", encoding="utf-8")  # released cleanly
        except OSError:
            pass
        self.lock.release()
        self.lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def claim(folder, wait=0.0):
    """Take the folder for this process, atomically, before anything is computed.

    Creates the folder if needed, removes temporary files left by killed writes,
    finishes what an interrupted retrain left (see ``swap_in``) and returns a Claim.
    Raises FolderHeld when another live process still holds it after ``wait``
    seconds, and RunFolderError when the folder cannot be created or written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock, holder = _acquire(folder, wait)
    except OSError as err:
        raise RunFolderError(f"out_dir {folder} cannot be used: {err.strerror or err}") from None
    if lock is None:
        raise FolderHeld(f"out_dir {folder} is being trained by {_holder_text(holder)}: wait for it "
                         f"to finish, or choose another out_dir (nothing was touched)", holder)
    previous = _read_holder(folder)
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}
    try:
        (folder / HOLDER).write_text(json.dumps(mine), encoding="utf-8")
    except OSError as err:
        lock.release()
        raise RunFolderError(f"out_dir {folder} is not writable: {err.strerror}") from None
    held = Claim(folder, lock, previous)
    try:
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        held.settled, held.settled_new = _settle_held(folder)
    except BaseException:
        held.release()
        raise
    return held


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
    try:
        # As a claim tries: another process that only looks, like this one, lets go at once.
        probe, _ = _acquire(folder, 0.0)
    except OSError:  # a folder this user may only read: the named holder is all there is to go by
        return _holder_alive(_read_holder(folder))
    if probe is None:
        return True
    probe.release()
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
    """The status of a finished run, or RunFolderError saying what state it is in and what to do.

    What an interrupted retrain left is finished first (``settle``), saying so in one line."""
    folder = Path(folder)
    settled = settle(folder)
    if settled:
        print(settled)
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
    """Delete everything in a folder but its lock files (a fresh start in a folder we hold)."""
    for entry in Path(folder).iterdir():
        if entry.name in LOCK_FILES:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


# ----------------------------------------------------------- the retrain swap

def aside_folder(folder):
    """Where a run that replaces ``folder`` is built: a hidden sibling."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}.retrain"


def _finished_status(folder):
    try:
        status = read_status(folder)
    except RunFolderError:
        return False
    return status is not None and status["state"] == "finished"


def _entries(folder, *also_kept):
    """The entries a swap moves (all but the lock files and also_kept), status.json last."""
    kept = LOCK_FILES + also_kept
    return sorted((e for e in Path(folder).iterdir() if e.name not in kept), key=lambda e: e.name == STATUS)


def _rename(source, target):
    """One step of a swap (the tests kill swaps here)."""
    os.replace(source, target)


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def swap_in(folder):
    """Put the finished run built in ``aside_folder(folder)`` in the place of folder's run.

    The caller holds folder, and no longer holds the aside folder. Each step renames one
    entry (never a folder holding an open lock file), so each is either done or not, and
    the state after a kill at any instant says which step was next:

    1. while the aside folder holds a finished status.json, the new run is whole there
       (status.json leaves it last, in step 3);
    2. the old run's entries move into folder/.replacing, status.json last, and the folder
       is renamed .replaced once all of them are in it;
    3. the new run's entries move from the aside folder into folder, status.json last;
    4. the aside folder is removed, then .replaced.

    So a swap has put the new run in exactly when the aside folder holds a finished run
    or .replaced exists: an aside folder left without status.json alone is a retrain
    killed before it trained anything, and the old run is there, whole.

    Running it again after a kill goes on from the next step, and ``settle`` does just
    that. Returns nothing; raises OSError (the old run stays whole until step 2 ends).
    """
    folder = Path(folder)
    aside, replacing, replaced = aside_folder(folder), folder / REPLACING, folder / REPLACED
    if _finished_status(aside):
        if not replaced.exists():
            replacing.mkdir(exist_ok=True)
            for entry in _entries(folder, REPLACING):
                _rename(entry, replacing / entry.name)
            _rename(replacing, replaced)
        for entry in _entries(aside):
            _rename(entry, folder / entry.name)
    if aside.is_dir() and not (aside / STATUS).exists():
        _remove(aside)
    _remove(replaced)


def _left_by_a_retrain(folder):
    """What an interrupted retrain left beside or in folder that the next claim clears."""
    aside = aside_folder(folder)
    left = [p for p in (folder / REPLACING, folder / REPLACED) if p.exists()]
    if aside.is_dir() and (_finished_status(aside) or not (aside / STATUS).exists()):
        left.append(aside)
    left += _earlier_trash(folder)
    return left


def _earlier_trash(folder):
    """Old runs an earlier version's swap hid as .<name>.old-<pid> before it was killed."""
    trash = []
    for path in folder.parent.glob(f".{folder.name}.old-*"):
        pid = path.name.rsplit("-", 1)[1]
        if pid.isdigit() and path.is_dir() and not psutil.pid_exists(int(pid)):
            trash.append(path)
    return trash


def _settle_held(folder):
    """Finish what an interrupted retrain left (the caller holds folder): (line, new run put in)."""
    folder = Path(folder)
    aside = aside_folder(folder)
    left = _left_by_a_retrain(folder)
    if not left or lock_is_held(aside):  # a live process trains in the aside folder itself
        return None, False
    new_in = _finished_status(aside) or (folder / REPLACED).exists()
    swap_in(folder)
    trash = _earlier_trash(folder) if (folder / STATUS).exists() else []
    for path in trash:
        shutil.rmtree(path)
    names = ", ".join(p.name for p in left)
    if new_in:
        return (f"{folder}: a retrain had finished but was stopped while swapping its new run in: "
                f"the new run is whole there now (removed {names})"), True
    if aside in left:
        return (f"{folder}: the old run is whole there; removed what a retrain killed before it "
                f"trained anything left ({names})"), False
    return (f"{folder}: the run there is whole; removed {names}, an old run hidden by an interrupted "
            f"retrain of an earlier version"), False


def settle(folder, wait=SWAP_WAIT_SECONDS):
    """For a command that reads folder: finish what an interrupted retrain left, as a claim would.

    Returns the line saying which run is whole there now, or None when nothing was left or
    a live process holds the folder and will finish it itself. Raises RunFolderError when
    a swap is under way and still is after ``wait`` seconds.
    """
    folder = Path(folder)
    if not _left_by_a_retrain(folder):
        return None
    aside = aside_folder(folder)
    swapping = _finished_status(aside) or (folder / REPLACING).exists() or (folder / REPLACED).exists()
    try:
        with claim(folder, wait=wait if swapping else 0.0) as held:
            return held.settled
    except FolderHeld as err:
        if swapping:
            raise RunFolderError(f"run_dir {folder} is having a retrain swapped in by "
                                 f"{_holder_text(err.holder)}: try again when it has finished") from None
        return None
    except RunFolderError:
        if swapping:
            raise
        return None
