"""A training run folder's lifecycle: new, running, interrupted or finished.

* ``status.json`` says which state the folder is in, with the run's settings,
  and is written atomically at every change of state.
* ``claim`` takes the folder's lock (``lib.training.folder_lock``) before anything
  else happens to it; a lock that can be taken while status.json says "running"
  means the run was interrupted.
* While a run is running or interrupted, nothing derived from its end is left
  in the folder (``DERIVED``): those files are removed when training starts
  and rewritten when it finishes.
* A run only ever moves or deletes what runs write, by name (``is_run_entry``): a first
  run refuses a folder that already holds anything else (``require_own_folder``), and
  files put beside a run later stay where they are through a fresh start or a retrain.
* A retrain is built in a hidden sibling (``aside_folder``) and swapped in by
  ``swap_in``, which renames single entries and never a folder holding an open
  lock (Windows refuses that). The swap's steps are ordered so that the state
  after a kill at any instant says how to finish it; every claim of the folder,
  and every command that reads it (``settle``), finishes it first.

``locate`` is how a notebook finds the run folder its ``run_dir`` names.
"""

import errno
import json
import os
import re
import shutil
import socket
from pathlib import Path

import psutil

from lib import atomic, paths
from lib.atomic import OneLine, atomic_write
from lib.training.folder_lock import HOLDER, LOCK_FILES, Claim, acquire, holder_text, lock_is_held, now, read_holder

STATUS = "status.json"
# Inside a folder while a retrain is swapped in: the old run's entries, gathered in
# REPLACING and renamed REPLACED once all of them are there.
REPLACING, REPLACED = ".replacing", ".replaced"
# Files that describe a run's end: never present while it is unfinished.
DERIVED = ("summary.json", "history.csv", "samples.jsonl", "loss.png", "loss.pdf",
           "evolution.json", "passage.json", "text_evolution.ipynb", "best_model.ipynb",
           "inside.json", "inside.ipynb") + tuple(
    f"inside_{what}.{ext}" for what in ("certainty", "guesses", "units", "heatmap", "reach", "outliers")
    for ext in ("png", "pdf"))
# The DERIVED files that the notebooks reading a finished run write into it (make keeps each executed
# notebook beside them), by notebook: they describe the model they read, so they go when it does.
READERS_OUTPUTS = {
    "text_evolution.ipynb": ("evolution.json", "text_evolution.ipynb"),
    "best_model.ipynb": ("passage.json", "best_model.ipynb"),
    "inside.ipynb": tuple(name for name in DERIVED if name.startswith("inside")),
}
# Files that only a run of this project writes: a folder holding one without
# status.json is not a run folder this version can manage.
RUN_FILES = ("last.npz", "best.npz", "summary.json")
# The executed train notebook, which make's stage keeps beside the run it trained.
STAGE_RECORD = "train.ipynb"
# A snapshot of the run at the end of epoch k (snapshot_epochs), a run folder of its own.
SNAPSHOT = re.compile(r"epochs_[0-9]+")
# A write of lib.atomic killed before it ended: .<name>.<random>.tmp beside the file it was to replace.
KILLED_WRITE = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]+\.tmp")
# How long a command that reads a folder waits for a retrain's swap (renames only) to end.
SWAP_WAIT_SECONDS = 10.0


class RunFolderError(OneLine, RuntimeError):
    """A run folder that cannot be used as asked; the message names it and says what to do."""


class FolderNotWritable(RunFolderError):
    """A folder this process may only read (a read-only disk or share, another user's folder)."""


# The errors of a folder that can be read but not written.
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def _cannot_use(folder, err):
    kind = FolderNotWritable if err.errno in _READ_ONLY else RunFolderError
    blocking = _file_in_the_way(folder)
    if blocking is None:
        return kind(f"out_dir {folder} cannot be used: {err.strerror or err}")
    where = "it is a file" if blocking == Path(folder) else f"it lies under {blocking}, a file"
    return kind(f"out_dir {folder} cannot be used: {where}, not a folder; a run needs a folder of its own: "
                f"choose a new or empty one (nothing was touched)")


def _file_in_the_way(folder):
    """The file that stands where folder or one of the folders above it should be, else None."""
    folder = Path(folder)
    return next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)


class FolderHeld(RunFolderError):
    """Another live process holds the folder (``holder``: its pid, host and since, when known)."""

    def __init__(self, message, holder):
        super().__init__(message)
        self.holder = holder


def is_run_entry(name):
    """Whether an entry of a run folder is one that runs write (and so may move or delete)."""
    return name in RUN_FILES + DERIVED + (STATUS, STAGE_RECORD) or SNAPSHOT.fullmatch(name) is not None


def require_own_folder(folder):
    """RunFolderError when a run would start in a folder that holds entries no run wrote.

    A folder with a status.json is a run's (what was put beside it later is left alone); one
    without may hold only the lock files and what a run killed before its first status left
    (temporary files, a snapshot's checkpoints). Checked before the folder is claimed, so a
    refused folder is not touched at all.
    """
    folder = Path(folder)
    if not folder.is_dir() or (folder / STATUS).exists() or _left_by_a_retrain(folder):
        return  # (a retrain's swap in progress: the claim finishes it, status.json last)
    entries = list(folder.iterdir())
    if any(entry.name == STATUS for entry in entries):
        return  # a run took the folder between the two looks (the claim names the process)
    foreign = sorted(entry.name for entry in entries if not _left_by_a_run(entry))
    if foreign:
        named = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3:,} more" if len(foreign) > 3 else "")
        raise RunFolderError(f"out_dir {folder} already holds files that no training run wrote ({named}): "
                             f"a run needs a folder of its own; choose a new or empty out_dir "
                             f"(nothing was touched)")


def _left_by_a_run(entry):
    if entry.name in LOCK_FILES or _killed_write(entry.name):
        return True
    return SNAPSHOT.fullmatch(entry.name) is not None and (entry / "last.npz").is_file()


def _killed_write(name):
    """Whether name is the temporary file of a run file's write that was killed (the next claim removes it)."""
    match = KILLED_WRITE.fullmatch(name)
    return match is not None and is_run_entry(match["name"])


def claim(folder, wait=0.0):
    """Take the folder for this process, atomically, before anything is computed.

    Creates the folder if needed, removes temporary files left by killed writes,
    finishes what an interrupted retrain left (see ``swap_in``) and returns a Claim.
    Raises FolderHeld when another live process still holds it after ``wait``
    seconds, FolderNotWritable when it may only be read, RunFolderError when it cannot
    be created or written otherwise (paths.HomeError when CHARRNN_HOME is the cause).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock, holder = acquire(folder, wait)
    except OSError as err:
        raise paths.home_error(folder, err) or _cannot_use(folder, err) from None
    if lock is None:
        raise FolderHeld(f"out_dir {folder} is being trained by {holder_text(holder)}: wait for it "
                         f"to finish, or choose another out_dir (nothing was touched)", holder)
    previous = read_holder(folder)
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "since": now()}
    try:
        (folder / HOLDER).write_text(json.dumps(mine), encoding="utf-8")
    except OSError as err:
        lock.release()
        raise paths.home_error(folder, err) or _cannot_use(folder, err) from None
    held = Claim(folder, lock, previous)
    try:
        for tmp in folder.glob(".*.tmp"):
            if _killed_write(tmp.name):
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
    status = dict(facts, state=state, updated_at=now())
    atomic_write(Path(folder) / STATUS,
                 lambda f: f.write(json.dumps(status, indent=2, ensure_ascii=False) + "\n"), binary=False)
    return status


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


def readers_outputs(folder):
    """The READERS_OUTPUTS files folder holds, by notebook: {"best_model.ipynb": ["passage.json"], ...}."""
    held = {notebook: [name for name in names if (Path(folder) / name).exists()]
            for notebook, names in READERS_OUTPUTS.items()}
    return {notebook: names for notebook, names in held.items() if names}


def removed_line(folder, before, why):
    """The line naming the READERS_OUTPUTS files folder held before (readers_outputs) and holds no
    longer, why they went ("made from ..."), and which notebooks write them again; None when none went."""
    now = readers_outputs(folder)
    gone = {notebook: [name for name in names if name not in now.get(notebook, ())]
            for notebook, names in before.items()}
    gone = {notebook: names for notebook, names in gone.items() if names}
    if not gone:
        return None
    named = "; ".join(f"{notebook}'s {_names_text(names)}" for notebook, names in gone.items())
    subject = "it was" if sum(map(len, gone.values())) == 1 else "they were"
    return f"removed {named} from {folder}: {subject} {why}; run {' and '.join(gone)} again for this run's"


def _names_text(names):
    """'passage.json', or 'inside.json and 12 figures (inside_*.png, .pdf)'."""
    figures = [name for name in names if name.endswith((".png", ".pdf"))]
    files = [name for name in names if name not in figures]
    if figures:
        kinds = sorted({f"{name.split('_')[0]}_*{Path(name).suffix}" for name in figures}, reverse=True)
        files.append(f"{len(figures)} figure{'s' if len(figures) > 1 else ''} ({', '.join(kinds)})")
    return ", ".join(files[:-1]) + (" and " if len(files) > 1 else "") + files[-1]


def remove_derived(folder):
    """Delete every file that describes the run's end (see DERIVED)."""
    for name in DERIVED:
        atomic.remove(Path(folder) / name)


def remove_run_files(folder):
    """Delete what runs write (``is_run_entry``), before a fresh start; other files stay."""
    for entry in _run_entries(folder):
        if entry.name != STATUS:
            _remove(entry)
    atomic.remove(Path(folder) / STATUS)  # last: until then the folder still says whose it is


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


def _run_entries(folder):
    """The entries of folder that runs write (``is_run_entry``), status.json last: what a swap moves."""
    return sorted((e for e in Path(folder).iterdir() if is_run_entry(e.name)), key=lambda e: e.name == STATUS)


def _rename(source, target):
    """One step of a swap (the tests kill swaps here)."""
    atomic.replace(source, target)


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        atomic.remove(path)


def swap_in(folder):
    """Put the finished run built in ``aside_folder(folder)`` in the place of folder's run.

    The caller holds folder, and no longer holds the aside folder. Each step renames one
    entry (never a folder holding an open lock file), so each is either done or not, and
    the state after a kill at any instant says which step was next:

    1. while the aside folder holds a finished status.json, the new run is whole there
       (status.json leaves it last, in step 3);
    2. the old run's entries (those runs write, ``is_run_entry``: files the user put beside
       the run stay) move into folder/.replacing, status.json last, and the folder is
       renamed .replaced once all of them are in it;
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
            for entry in _run_entries(folder):
                _rename(entry, replacing / entry.name)
            _rename(replacing, replaced)
        for entry in _run_entries(aside):
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


def settle_pending(folder):
    """Whether an interrupted retrain left something beside or in folder for the next claim to finish."""
    return bool(_left_by_a_retrain(Path(folder)))


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
                                 f"{holder_text(err.holder)}: try again when it has finished") from None
        return None
    except RunFolderError:
        if swapping:
            raise
        return None


def locate(run_dir, default=None, runs_dir=None):
    """The run folder a notebook's run_dir names, as an absolute path.

    None or empty names default or, without one, the finished run trained last under runs_dir
    (paths.RUNS_DIR), saying which in one printed line (``last_finished``). A relative path is
    taken from the current folder, as a shell would; where nothing is there it is taken from the
    repository root, so that a folder printed relative to the root (runs/train_10ep) also works
    from notebooks/, Jupyter's folder. Raises RunFolderError naming both places when neither
    holds it, and naming the file when run_dir is one (a model's best.npz, say).
    """
    if run_dir is None or str(run_dir) == "":
        if default is not None:
            return Path(default)
        run, line = last_finished(paths.RUNS_DIR if runs_dir is None else runs_dir)
        print(line)
        return run
    given = Path(run_dir).expanduser()
    here = given.resolve()
    from_root = (paths.REPO_ROOT / given).resolve()
    places = (here,) if given.is_absolute() else (here, from_root)
    for place in places:
        if place.is_dir():
            return place
    for place in places:
        if place.exists():
            shown = "" if str(run_dir) == str(place) else f" ({place})"
            raise RunFolderError(f"run_dir {run_dir} is a file{shown}, not a run folder: give the folder "
                                 f"train.ipynb trained the run in{_its_run(place)}")
    if given.is_absolute():
        return here  # (require_finished says it does not exist)
    raise RunFolderError(f"run_dir {run_dir} does not exist (looked in {here} and in {from_root}): "
                                f"train it first with notebooks/train.ipynb")


def _its_run(file):
    """', <its folder>' for a file of a run folder (best.npz, summary.json), else ''."""
    return f", {file.parent}" if (file.parent / STATUS).is_file() else ""


# How deep under runs/ a run folder is looked for (make's runs are runs/seed0/train_10ep).
_RUN_DEPTH = 3


def run_folders(runs_dir):
    """Every run folder (one holding status.json) under runs_dir, down to _RUN_DEPTH levels; a run's
    own subfolders (its epochs_<k> snapshots) and hidden folders (a retrain's build) are not looked in."""
    found, level = [], [Path(runs_dir)]
    for _ in range(_RUN_DEPTH):
        below = []
        for folder in level:
            try:
                entries = sorted(e for e in folder.iterdir() if e.is_dir() and not e.name.startswith("."))
            except OSError:
                continue
            for entry in entries:
                (found if (entry / STATUS).is_file() else below).append(entry)
        level = below
    return found


def last_finished(runs_dir):
    """(the finished run under runs_dir that finished last, the line saying so and naming the others).

    A notebook that reads a run, given run_dir None, takes the run the student trained last:
    status.json's time of finishing decides (its file's time between two runs of the same second).
    Raises RunFolderError when no run under runs_dir is finished, naming the unfinished ones."""
    finished, unfinished = [], []
    for folder in run_folders(runs_dir):
        try:
            state, status = folder_state(folder)
        except RunFolderError:
            continue
        if state == "finished":
            finished.append((status.get("updated_at", ""), (folder / STATUS).stat().st_mtime_ns, folder))
        else:
            unfinished.append(f"{_shown_under(folder, runs_dir)} ({state})")
    if not finished:
        others = f" ({', '.join(unfinished[:3])}{' and more' if len(unfinished) > 3 else ''})" if unfinished else ""
        raise RunFolderError(f"run_dir None: there is no finished run in {runs_dir}{others}: train one with "
                             f"notebooks/train.ipynb, or set run_dir to a finished run's folder")
    finished.sort()
    when, _, run = finished[-1]
    others = [_shown_under(folder, runs_dir) for _, _, folder in reversed(finished[:-1])]
    when = when.replace("T", " ").replace("+00:00", " UTC")  # (status.json's times are UTC)
    line = f"run_dir None: reading {run}, the run trained last (finished {when})"
    if others:
        line += (f"; set run_dir for another of the {len(others) + 1} finished runs in {runs_dir}: "
                 + ", ".join(others[:3]) + (f" and {len(others) - 3:,} more" if len(others) > 3 else ""))
    return run, line


def _shown_under(folder, runs_dir):
    return Path(folder).relative_to(runs_dir).as_posix()


def output_folder(out_dir, run):
    """Where a notebook that reads run writes its files: out_dir (relative to the current folder),
    or run when None; RunFolderError, before anything is computed, when a file stands there."""
    out = paths.user_path(out_dir, run)
    blocking = _file_in_the_way(out)
    if blocking is not None:
        where = "is a file" if blocking == out else f"lies under {blocking}, a file"
        raise RunFolderError(f"out_dir {out_dir} {where}, not a folder: give a folder for the notebook's files "
                             f"(None: the run's folder)")
    return out
