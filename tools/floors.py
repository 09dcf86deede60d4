#!/usr/bin/env python3
"""Prove pyproject.toml's floors: install exactly them in a venv of their own and run tests there.

    python3 tools/floors.py        # after make install (it uses uv from build/uv)

`pip install .` into a hosted kernel (Colab's numpy 2.0.2, ipywidgets 7.7.1, filelock 3.18,
psutil 5.9.5, ...) must leave the kernel's packages alone, so the package's own dependencies
start at old versions proven to work here, not at the lock's pins. This script builds
build/floors with each of those dependencies at its floor exactly (the floors also go in as
constraints, so that a test tool asking for a newer one gets an older release of the tool
instead), the [report] and [test] extras at theirs, and runs the tests that exercise each
dependency: the model and training (numpy), the folder lock and the process checks
(filelock, psutil), the sampler widget (ipywidgets 7), the BLAS limit (threadpoolctl), a
notebook run with its figures (matplotlib), the progress bar in a live kernel (tqdm's
notebook bar, an ipywidgets widget). Wheels only, on the Python that runs this script, 3.11
or 3.12: numpy 2.0 has no wheel for a newer one.
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "build" / "floors"
UV = ROOT / "build" / "uv" / "bin" / ("uv.exe" if sys.platform == "win32" else "uv")
# The tests that exercise each dependency of the package, about two minutes on two cores.
TESTS = [
    "tests/test_rnn.py", "tests/test_train.py",
    "tests/test_checkpoint.py::test_resume_after_sigkill_equals_uninterrupted_run",
    "tests/test_repository.py::test_importing_lib_limits_blas_to_one_thread_unless_the_user_chose",
    "tests/test_sample.py::test_sampler_widgets_redraw_and_write_nothing",
    "tests/test_sample.py::test_sampler_label_is_whole_and_text_wraps_between_words",
    "tests/test_sample.py::test_sampler_says_what_it_made_of_a_value_out_of_range",
    "tests/test_sample.py::test_widget_cell_headless_prints_one_line_and_leaves_no_widgets",
    "tests/test_lifecycle.py::test_two_processes_racing_for_one_folder[0]",
    "tests/test_lifecycle.py::test_a_process_that_only_looks_at_the_lock_is_not_taken_for_a_trainer",
    "tests/test_lifecycle.py::test_a_file_system_without_flock_is_refused_in_one_line",
    "tests/test_lifecycle.py::test_train_notebook_twice_gives_the_same_outputs",
    "tests/test_lifecycle.py::test_live_jupyter_front_end_gets_the_bar_not_terminal_lines",
    "tests/test_hostile.py::test_the_samples_end_with_one_from_the_final_model",
]


def floors(pyproject=ROOT / "pyproject.toml"):
    """{name: version} of pyproject's dependencies, each of which must read name>=X.Y.Z."""
    found = {}
    for requirement in tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=(\d+\.\d+\.\d+)", requirement.replace(" ", ""))
        if not match:
            raise SystemExit(f"error: pyproject.toml's dependency {requirement!r} is not name>=X.Y.Z, "
                             "so the version installed here would not be the floor itself")
        found[match.group(1).lower()] = match.group(2)
    return found


def run(*cmd):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def main():
    if sys.version_info[:2] not in ((3, 11), (3, 12)):
        raise SystemExit(f"error: run this with Python 3.11 or 3.12, not {sys.version.split()[0]}: "
                         "numpy 2.0, the floor, has no wheel for newer ones")
    if not UV.exists():
        raise SystemExit(f"error: {UV.relative_to(ROOT)} is missing: make install puts it there")
    wanted = floors()
    VENV.parent.mkdir(exist_ok=True)
    constraints = VENV.parent / "floors-constraints.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in wanted.items()), encoding="utf-8")
    run(UV, "venv", "--quiet", "--clear", "--python", sys.executable, VENV)
    python = VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    run(UV, "pip", "install", "--quiet", "--python", python, "--only-binary", ":all:",
        "--resolution", "lowest-direct", "-r", "pyproject.toml", "--extra", "test", "-c", constraints)
    run(UV, "pip", "install", "--quiet", "--python", python, "--no-deps", "-e", ".")
    listed = subprocess.run([python, "-c", "import importlib.metadata as m, sys\n"
                             "for name in sys.argv[1:]: print(name, m.version(name))", *wanted],
                            capture_output=True, text=True, check=True).stdout
    installed = dict(line.split() for line in listed.splitlines())
    off = {name: installed[name] for name, version in wanted.items() if installed[name] != version}
    if off:
        raise SystemExit(f"error: installed above their floors: {off}")
    print("floors installed: " + ", ".join(f"{name} {version}" for name, version in wanted.items()), flush=True)
    return subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--disable-warnings", *TESTS], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
