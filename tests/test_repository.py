"""The repository itself: clean notebooks, environments that agree, lib/ grouped by job."""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_script

from lib import paths


def tracked(pattern):
    out = subprocess.run(["git", "ls-files", pattern], cwd=paths.REPO_ROOT, capture_output=True,
                         text=True, check=True).stdout
    return [paths.REPO_ROOT / line for line in out.splitlines()]


def test_committed_notebooks_hold_no_outputs():
    notebooks = tracked("*.ipynb")
    assert len(notebooks) >= 5, notebooks
    for path in notebooks:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell.get("outputs") == [], f"{path.name} has outputs"
                assert cell.get("execution_count") is None, f"{path.name} has execution counts"


def test_each_notebook_has_one_parameters_cell():
    for path in tracked("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged parameters"


# Issue 25, case 20: at 1280 to 1500 pixels wide, longer lines of a parameters cell hid their comments
# behind a horizontal scrollbar; about 100 characters is what a code cell shows there.
PARAMETER_LINE_WIDTH = 100


def test_parameters_cells_fit_a_laptop_screen():
    """The notebooks a student opens (notebooks/): each line of a parameters cell, its comment included."""
    too_wide = []
    for path in tracked("notebooks/*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                lines = "".join(cell["source"]).splitlines()
                too_wide += [f"{path.name}: {len(line)} characters: {line}" for line in lines
                             if len(line) > PARAMETER_LINE_WIDTH]
    assert not too_wide, f"parameters cells' lines longer than {PARAMETER_LINE_WIDTH} characters:\n" + "\n".join(too_wide)


# tools/lock.py: its reading of requirements.txt is the one the lock is made from.
lock_tool = load_script(paths.REPO_ROOT / "tools" / "lock.py", "lock_tool")
_name = lock_tool.normalized


def pin_groups():
    """requirements.txt: {group: {name: version}}, groups "base", "report", "test", "constraints"."""
    return lock_tool.read_pin_groups(paths.REPO_ROOT / "requirements.txt")


def asked_for():
    """The packages requirements.txt asks for (its constraints only hold versions back)."""
    groups = pin_groups()
    return {name: version for group, pins in groups.items() if group != "constraints" for name, version in pins.items()}


def lock_entries(lock="requirements.lock"):
    """A universal uv lock: [(name, version, marker or None, number of sha256 hashes)], in file order."""
    entries = []
    for line in (paths.REPO_ROOT / lock).read_text(encoding="utf-8").splitlines():
        pin = re.match(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line)
        if pin:
            entries.append([_name(pin.group(1)), pin.group(2), pin.group(3), 0])
        elif entries and re.match(r"^\s+--hash=sha256:[0-9a-f]{64}", line):
            entries[-1][3] += 1
    return [tuple(entry) for entry in entries]


# Marker variables of the targets the lock promises (tools/lock.py's matrix), for Python 3.11-3.14.
_PLATFORMS = {
    "Linux x86_64": {"sys_platform": "linux", "os_name": "posix", "platform_system": "Linux",
                     "platform_machine": "x86_64"},
    "macOS arm64": {"sys_platform": "darwin", "os_name": "posix", "platform_system": "Darwin",
                    "platform_machine": "arm64"},
    "macOS x86_64": {"sys_platform": "darwin", "os_name": "posix", "platform_system": "Darwin",
                     "platform_machine": "x86_64"},
    "Windows x86_64": {"sys_platform": "win32", "os_name": "nt", "platform_system": "Windows",
                       "platform_machine": "AMD64"},
}


def target_environments():
    for label, platform in _PLATFORMS.items():
        for python in lock_tool.PYTHONS:
            yield f"{label}, Python {python}", dict(platform, python_version=python, python_full_version=python + ".0",
                                                  implementation_name="cpython",
                                                  platform_python_implementation="CPython")


def locked_for(environment=None):
    """{name: version} of the lock's entries whose markers hold in environment (None: this machine)."""
    from packaging.markers import Marker

    chosen = {}
    for name, version, marker, _ in lock_entries():
        if marker is None or Marker(marker).evaluate(environment):
            assert name not in chosen, f"{name} is locked twice for the same machine ({chosen[name]}, {version})"
            chosen[name] = version
    return chosen


# conda-forge's names where they differ from PyPI's.
CONDA_NAMES = {"matplotlib": "matplotlib-base"}


def conda_specs():
    specs = {}
    for line in (paths.REPO_ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s+- ([A-Za-z0-9_.-]+)=([0-9.]+)\s*$", line)
        if match:
            specs[match.group(1).lower()] = match.group(2)
    return specs


def test_lock_holds_every_top_level_pin_with_hashes():
    pins, entries = asked_for() | pin_groups().get("constraints", {}), lock_entries()
    locked = {}
    for name, version, _, _ in entries:
        locked.setdefault(name, set()).add(version)
    # Everything the top-level pins pull in is there too: the lock is much longer than the list.
    assert len(locked) > 3 * len(pins), f"{len(locked)} packages locked for {len(pins)} pins"
    for name, version in pins.items():
        assert locked.get(name) == {version}, f"{name}: requirements.txt pins {version}, the lock {locked.get(name)}"
    unhashed = [name for name, _, _, hashes in entries if hashes == 0]
    assert not unhashed, f"locked without a sha256 hash: {unhashed}"


def test_the_lock_is_universal_one_version_of_each_package_per_target():
    """What each target of the matrix installs, read from the markers: every package asked for, each package once,
    and the platform's own (colorama and pywinpty on Windows, appnope on macOS) only where they belong."""
    seen = {}
    for target, environment in target_environments():
        chosen = locked_for(environment)
        missing = sorted(set(asked_for()) - set(chosen))
        assert not missing, f"{target}: the lock has no entry for {missing}"
        seen[target] = chosen
    assert all("colorama" in chosen and "pywinpty" in chosen for t, chosen in seen.items() if "Windows" in t)
    assert all("appnope" in chosen for t, chosen in seen.items() if "macOS" in t)
    assert not any({"colorama", "pywinpty", "appnope"} & set(chosen) for t, chosen in seen.items() if "Linux" in t)


def test_the_installer_is_locked_alone_with_its_hashes():
    """make install and tools/lock.py get uv from requirements-uv.lock: one pin, with a hash for each
    of its platforms' files (pip refuses it otherwise)."""
    entries = lock_entries("requirements-uv.lock")
    assert [name for name, *_ in entries] == ["uv"]
    assert entries[0][3] >= 4, "uv's lock should hash a wheel for each platform"


def test_conda_environment_names_the_locks_versions():
    pins, lock, specs = asked_for(), locked_for(), conda_specs()
    assert specs.pop("python") == "3.11", "environment.yml pins the lowest Python the lock supports"
    expected = {CONDA_NAMES.get(name, name): lock[name] for name in pins}
    assert specs == expected, "environment.yml must name requirements.txt's packages at the lock's versions"
    assert "matplotlib" not in specs and "matplotlib-base" in specs


def _lower_bounds(requirements, project_name):
    """{name: lower bound} of name>=version requirements; the project's own extras left out."""
    declared = {}
    for requirement in requirements:
        if _name(requirement.split("[")[0]) == _name(project_name):
            continue
        name, lower = re.match(r"^([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)$", requirement).groups()
        declared[_name(name)] = lower
    return declared


# What issue 25 found in a hosted kernel (Colab): `pip install .` there must keep every one of them.
HOSTED_KERNEL = {"numpy": "2.0.2", "matplotlib": "3.10.0", "ipywidgets": "7.7.1", "psutil": "5.9.5",
                 "filelock": "3.18.0"}
floors_tool = load_script(paths.REPO_ROOT / "tools" / "floors.py", "floors_tool")


def test_pyproject_declares_requirements_txts_groups():
    """The package's own dependencies start at the oldest versions proven to work (tools/floors.py installs
    exactly those and runs the tests, in CI), at or below a hosted kernel's and the pins; the extras, which
    no hosted kernel is asked to take, start at the pins; the lock stays exact (tests above)."""
    import tomllib

    from packaging.version import Version

    project = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups, name = pin_groups(), project["name"]
    floors = _lower_bounds(project["dependencies"], name)
    assert floors == floors_tool.floors(), "tools/floors.py must install pyproject's floors themselves"
    assert set(floors) == set(groups["base"]), "pyproject.toml's dependencies must be requirements.txt's first group"
    for package, floor in floors.items():
        assert Version(floor) <= Version(groups["base"][package]), f"{package}: floor {floor} above the pin"
        if package in HOSTED_KERNEL:
            assert Version(floor) <= Version(HOSTED_KERNEL[package]), \
                f"{package}>={floor} would replace a hosted kernel's {HOSTED_KERNEL[package]}"
    extras = project["optional-dependencies"]
    assert set(extras) == {"report", "test", "torch"}
    # [torch], the gradient oracle and speed reference, stays out of the lock and of requirements.txt:
    # on Linux PyPI's wheel brings several GB of CUDA libraries that no student should get by default.
    assert [_name(r.split(">=")[0]) for r in extras.pop("torch")] == ["torch"] and "torch" not in asked_for()
    for extra in extras:
        assert _lower_bounds(extras[extra], name) == groups[extra], f"[{extra}] must start at requirements.txt's"
    assert f"{name}[report]" in extras["test"], "the tests run the notebooks, so [test] brings [report]"
    # A hosted kernel keeps its own Jupyter: the package alone must not pull any of it in.
    assert not {"jupyter", "ipykernel", "nbformat", "nbconvert", "papermill", "pytest"} & set(groups["base"])
    assert project["scripts"]["charrnn-sample"] == "lib.sample.command:main"


def test_ci_proves_the_floors_with_tests_that_exist():
    """.ci/run runs tools/floors.py beside make test, and every test it names is there to run."""
    ci = (paths.REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "python3 tools/floors.py" in ci and "make test" in ci
    for test in floors_tool.TESTS:
        path, _, function = test.partition("::")
        assert (paths.REPO_ROOT / path).is_file(), test
        if function:
            assert f"def {function.split('[')[0]}(" in (paths.REPO_ROOT / path).read_text(encoding="utf-8"), test


def _in_project_venv():
    return Path(sys.prefix).resolve() == (paths.REPO_ROOT / ".venv").resolve()


def _torch_and_what_it_brings():
    """PyTorch, the optional [torch] extra (outside the lock: on Linux PyPI's wheel brings GBs of CUDA
    libraries), and the packages it requires, where it is installed (CI installs it): names only.
    A locked package that it moved to another version still fails the check below."""
    from importlib import metadata

    from packaging.requirements import Requirement

    found, todo = set(), ["torch"]
    while todo:
        name = _name(todo.pop())
        if name in found:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        found.add(name)
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


@pytest.mark.skipif(not _in_project_venv(), reason="not running in the project's .venv (e.g. VENV=none)")
def test_venv_holds_exactly_the_lock():
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True,
                            check=True).stdout
    installed = {}
    for line in frozen.splitlines():
        # The editable project itself appears as "-e ..." (after a comment line); it is not locked.
        # Of the universal lock, only the entries whose markers hold on this machine belong here.
        if not line or line.startswith(("#", "-e ")):
            continue
        name, version = line.split("==")
        installed[_name(name)] = version
    locked = locked_for()
    missing = sorted(set(locked) - set(installed))
    extra = sorted(set(installed) - set(locked) - _torch_and_what_it_brings())
    differ = sorted(f"{n} {installed[n]} != {locked[n]}" for n in set(locked) & set(installed)
                    if installed[n] != locked[n])
    assert not (missing or extra or differ), f"missing {missing}, not in the lock {extra}, versions {differ}"


def test_importing_lib_limits_blas_to_one_thread_unless_the_user_chose():
    script = ("import numpy, lib\nfrom threadpoolctl import threadpool_info\n"
              "print(max(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'))")
    names = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    clean = {k: v for k, v in os.environ.items() if k not in names}
    # numpy imported first: the limit still applies (no variable needs setting before numpy loads);
    # lib imported first (as the notebooks do, numpy coming later through lib): the same.
    for order in (script, script.replace("import numpy, lib", "import lib, numpy")):
        one = subprocess.run([sys.executable, "-c", order], env=clean, capture_output=True, text=True, check=True)
        assert one.stdout.strip() == "1", order
    chosen = subprocess.run([sys.executable, "-c", script], env=dict(clean, OPENBLAS_NUM_THREADS="2"),
                            capture_output=True, text=True, check=True)
    assert chosen.stdout.strip() == str(min(2, os.cpu_count()))


def _lib_modules_loaded_by(module):
    """The lib modules a fresh interpreter holds after importing module."""
    script = f"import sys, {module}\nprint(' '.join(sorted(m for m in sys.modules if m.startswith('lib'))))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          cwd=paths.REPO_ROOT)
    return set(done.stdout.split())


def test_the_model_and_the_training_loop_stand_on_their_own():
    """lib/rnn.py needs no other module of the project; the training loop none of the bonus
    (record mode plugs in through train()'s record_mode argument), of the report or of sampling."""
    assert _lib_modules_loaded_by("lib.rnn") == {"lib", "lib.rnn"}
    loop = _lib_modules_loaded_by("lib.training.train")
    others = ("records", "report", "inside", "sample", "jupyter")
    assert not {m for m in loop if m.count(".") and m.split(".")[1] in others}, loop
    assert "lib.rnn" in loop and "lib.rnn_fast" in loop


def test_lib_is_grouped_by_job():
    """The maths at the top of lib/ (the models, one module a cell, what they share, the fast path,
    their check and timing against PyTorch) with the shared basics; everything else in a sub-package
    whose __init__ says what it holds and defines nothing."""
    top = sorted(f.name for f in (paths.REPO_ROOT / "lib").glob("*.py"))
    assert top == ["__init__.py", "atomic.py", "checks.py", "gradcheck.py", "gru.py", "lstm.py", "network.py",
                   "paths.py", "rnn.py", "rnn_fast.py", "speed.py", "torch_cells.py"]
    packages = sorted(d.name for d in (paths.REPO_ROOT / "lib").iterdir() if (d / "__init__.py").is_file())
    assert packages == ["inside", "jupyter", "records", "report", "sample", "text", "training"]
    for name in packages:
        init = paths.REPO_ROOT / "lib" / name / "__init__.py"
        tree = ast.parse(init.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"lib/{name}/__init__.py says nothing of what it holds"
        assert len(tree.body) == 1, f"lib/{name}/__init__.py should hold its docstring alone"
