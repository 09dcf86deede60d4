"""Running notebooks the way users do, for the notebook and report tests."""

import subprocess
import sys


def papermill(notebook, output, cwd, *params, yaml=None):
    """Run `python -m papermill` from cwd; params are (name, value) pairs. Returns the CompletedProcess."""
    cmd = [sys.executable, "-m", "papermill", "--log-level", "ERROR", str(notebook), str(output)]
    for name, value in params:
        cmd += ["-p", name, str(value)]
    if yaml:
        cmd += ["-y", yaml]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


def ok(result):
    """Assert a subprocess succeeded, showing the end of its stderr if not."""
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def stage_lines(stderr):
    """The lines a stage or papermill printed, without libzmq's abort in the kernel it shuts down.

    The kernel shares its parent's stderr, and libzmq there sometimes aborts as the kernel is stopped
    ("Assertion failed: pfd.revents & POLLIN (src/signaler.cpp:238)", seen once in CI): the kernel's last
    words, not the command's, so a test of what the command printed sets them aside.
    """
    return [line for line in stderr.strip().splitlines()
            if not (line.startswith("Assertion failed: ") and "src/signaler.cpp" in line)]
