"""How the project's commands execute and convert notebooks (make's stages, report/build.py).

Three things differ from calling papermill and ``jupyter nbconvert`` plainly:

* The kernel talks over socket files in a fresh temporary folder (ZeroMQ's ipc
  transport), not TCP ports. Over TCP, papermill picks its kernel's five ports by
  asking the system for free ones, and the kernel binds them a second or more later.
  Stages that start together sometimes drew the same port; the kernel that lost
  hung, and the stage failed a minute later with "Kernel didn't respond in 60
  seconds" (measured: 1 start in 80, eight stages at once on a busy machine).
  The folder goes when the stage ends; one left by a stage killed with SIGKILL
  is removed by the next stage that starts. Where ipc does not work (Jupyter has
  no ipc on Windows), the kernel talks over TCP, papermill's default, and the
  rare clash above can happen.
* ``rfc3987_syntax`` is not imported. nbformat, which papermill and nbconvert load,
  imports jsonschema, whose format checkers load that module when it is installed
  (jupyter-events brings it in); it builds parsers for the IRI grammar as it loads,
  2.2 s of CPU here in every process. No notebook schema uses the two "iri" formats
  it checks, and jsonschema goes on without them when the module is missing.
* The kernels it starts get CHARRNN_HEADLESS=1 in their environment: nobody looks at
  them, so training progress goes to make's terminal as plain lines (lib.jupyter).

    python -m lib.jupyter.nbexec nbconvert ARGS...    # jupyter nbconvert ARGS..., the same way
"""

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import psutil

from lib.jupyter.front_end import HEADLESS_ENV

SLOW_MODULE = "rfc3987_syntax"
SOCKET_DIR_PREFIX = "kernel-"


def skip_iri_grammar():
    """Make ``import rfc3987_syntax`` fail at once. Call before papermill, nbformat or
    nbconvert is imported; afterwards (or where it is already loaded) it changes nothing."""
    sys.modules.setdefault(SLOW_MODULE, None)


def ipc_available():
    """Whether kernels can talk over ipc socket files here (not on Windows, whatever ZeroMQ offers)."""
    if sys.platform == "win32":
        return False
    import zmq

    return zmq.has("ipc")


def _mine(info):
    """Whether a folder's lstat belongs to this user (Windows has no uids: its temporary folder is per user)."""
    return not hasattr(os, "getuid") or info.st_uid == os.getuid()


def remove_orphaned_socket_dirs(parent=None):
    """Remove the socket folders of stages that were killed outright (SIGKILL skips the clean-up).

    A folder is named kernel-<pid of its stage>-<random>; one of this user's whose process is gone
    is removed. Returns the folders removed."""
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(SOCKET_DIR_PREFIX + "*-*"):
        pid = folder.name[len(SOCKET_DIR_PREFIX):].split("-", 1)[0]
        try:
            info = folder.lstat()  # (a folder that its own stage removes meanwhile is passed over)
        except OSError:
            continue
        if pid.isdigit() and stat.S_ISDIR(info.st_mode) and _mine(info) and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextlib.contextmanager
def headless_kernels():
    """Kernels started meanwhile inherit HEADLESS_ENV=1: nobody looks at them (progress goes to the terminal)."""
    before = os.environ.get(HEADLESS_ENV)
    os.environ[HEADLESS_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(HEADLESS_ENV, None)
        else:
            os.environ[HEADLESS_ENV] = before


def execute(notebook, executed, parameters, cwd):
    """papermill.execute_notebook(notebook -> executed) with ``parameters``, run in cwd.

    The kernel logs only critical lines (it would log an "error" for the interrupt that
    ends it, noise in make's output); cell errors still come through as
    papermill.PapermillExecutionError."""
    skip_iri_grammar()
    import papermill
    from traitlets.config import Config

    def run(**sockets):
        with headless_kernels():
            papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, cwd=str(cwd),
                                       progress_bar=False, extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                                       **sockets)

    if not ipc_available():
        run()  # TCP, papermill's default
        return
    remove_orphaned_socket_dirs()
    with tempfile.TemporaryDirectory(prefix=f"{SOCKET_DIR_PREFIX}{os.getpid()}-") as socket_dir:
        # Socket files are named <ip>-<n>; the folder is this kernel's alone.
        run(config=Config({"KernelManager": {"transport": "ipc", "ip": f"{socket_dir}/kernel"}}))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] != "nbconvert":
        print("usage: python -m lib.jupyter.nbexec nbconvert ARGS...", file=sys.stderr)
        return 2
    skip_iri_grammar()
    from nbconvert.nbconvertapp import NbConvertApp

    with headless_kernels():
        NbConvertApp.launch_instance(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
