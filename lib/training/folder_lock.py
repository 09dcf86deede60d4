"""A run folder's lock, and who holds it.

``.lock`` is claimed (``filelock``: flock on Linux and macOS, LockFileEx on Windows) before
anything else happens to the folder. The operating system drops the lock when its process
ends, however it ends, so a lock that can be taken while status.json says "running" means the
run was interrupted. Windows lets no other process read a locked file, so the holder (pid,
host, since) is named in ``.lock-holder.json`` beside it, for the message a second claimant
gets; an empty one means the last holder let go cleanly.
"""

import errno
import json
import socket
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
from filelock import FileLock, Timeout

LOCK = ".lock"
HOLDER = ".lock-holder.json"
LOCK_FILES = (LOCK, HOLDER)
# How long a refused claimant keeps trying: long enough for a winner to write its name,
# or for a reader that took the lock only to look (lock_is_held) to let go.
NAMING_SECONDS = 1.0
POLL_SECONDS = 0.02


def now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def holder_text(info):
    if not info:
        return "another process"
    return f"process {info.get('pid')} on {info.get('host')} (since {info.get('since')})"


def read_holder(folder):
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


# filelock 4's preserve_lock_file keeps .lock on release on Windows (as flock does elsewhere)
# and, where the file system has no flock, refuses to fall back to a lock that is the file's
# mere existence (a killed process would leave that one held). filelock 3 (Colab's) has no
# such option and would drop the keyword silently: it never falls back (it raises
# NotImplementedError, made OSError in acquire), and on Windows it deletes .lock after
# release, which is safe, since Windows deletes no file another process holds open, so two
# processes never lock two files of one name; a missing .lock reads as free in lock_is_held.
_PRESERVE = {"preserve_lock_file": True} if hasattr(FileLock, "preserve_lock_file") else {}
NO_FLOCK = "its file system cannot lock files (no flock): use a folder on a local disk"


def _folder_lock(folder):
    return FileLock(Path(folder) / LOCK, **_PRESERVE)


def acquire(folder, wait):
    """(lock, None) once the folder's lock is ours, or (None, holder) after ``wait`` seconds.

    A refusal waits at least NAMING_SECONDS unless a live holder is named sooner."""
    lock, start = _folder_lock(folder), time.monotonic()
    while True:
        try:
            lock.acquire(timeout=0)
            return lock, None
        except Timeout:
            pass
        except NotImplementedError:  # filelock 3 on a file system without flock
            raise OSError(errno.ENOSYS, NO_FLOCK) from None
        except OSError as err:
            if err.errno == errno.ENOSYS:
                raise OSError(errno.ENOSYS, NO_FLOCK) from None
            raise
        holder = read_holder(folder)
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


def lock_is_held(folder):
    """Whether a live process holds the folder's lock (tries it without waiting)."""
    path = Path(folder) / LOCK
    if not path.exists():
        return False
    try:
        # As a claim tries: another process that only looks, like this one, lets go at once.
        probe, _ = acquire(folder, 0.0)
    except OSError:  # a folder this user may only read: the named holder is all there is to go by
        return _holder_alive(read_holder(folder))
    if probe is None:
        return True
    probe.release()
    return False
