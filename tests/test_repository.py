"""The repository itself: clean notebooks, environments that agree."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

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


def _name(name):
    """A distribution name as pip compares them (PEP 503): lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_pins():
    """requirements.txt: {name: version} of the top-level pins."""
    pins = {}
    for line in (paths.REPO_ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[_name(name.strip())] = version.strip()
    return pins


def lock_entries(lock="requirements.lock"):
    """A pip-compile lock: {name: (version, number of sha256 hashes)}."""
    entries, current = {}, None
    for line in (paths.REPO_ROOT / lock).read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==([^\s;\\]+)", line)
        if pin:
            current = _name(pin.group(1))
            assert current not in entries, f"{current} locked twice"
            entries[current] = [pin.group(2), 0]
        elif current and re.match(r"^\s+--hash=sha256:[0-9a-f]{64}", line):
            entries[current][1] += 1
    return {name: tuple(value) for name, value in entries.items()}


# conda-forge's names where they differ from PyPI's.
CONDA_NAMES = {"matplotlib": "matplotlib-base"}


def conda_specs():
    specs = {}
    for line in (paths.REPO_ROOT / "environment.yml").read_text().splitlines():
        match = re.match(r"^\s+- ([A-Za-z0-9_.-]+)=([0-9.]+)\s*$", line)
        if match:
            specs[match.group(1).lower()] = match.group(2)
    return specs


def test_lock_holds_every_top_level_pin_with_hashes():
    pins, lock = pip_pins(), lock_entries()
    # Everything the top-level pins pull in is there too: the lock is much longer than the list.
    assert len(lock) > 3 * len(pins), f"{len(lock)} packages locked for {len(pins)} pins"
    for name, version in pins.items():
        assert name in lock, f"{name} is pinned in requirements.txt but not locked"
        assert lock[name][0] == version, f"{name}: requirements.txt pins {version}, the lock {lock[name][0]}"
    unhashed = [name for name, (_, hashes) in lock.items() if hashes == 0]
    assert not unhashed, f"locked without a sha256 hash: {unhashed}"


def test_the_installer_is_locked_at_the_makefiles_version():
    """make install gets uv from requirements-uv.lock: one pin, the Makefile's UV_VERSION,
    with a hash for each of its files (pip refuses it otherwise)."""
    makefile = (paths.REPO_ROOT / "Makefile").read_text()
    version = re.search(r"^UV_VERSION := (\S+)$", makefile, re.M).group(1)
    entries = lock_entries("requirements-uv.lock")
    assert list(entries) == ["uv"] and entries["uv"][0] == version
    assert entries["uv"][1] >= 2


def test_conda_environment_names_the_locks_versions():
    pins, lock, specs = pip_pins(), lock_entries(), conda_specs()
    assert specs.pop("python") == "3.11", "the lock is compiled for Python 3.11"
    expected = {CONDA_NAMES.get(name, name): lock[name][0] for name in pins}
    assert specs == expected, "environment.yml must name requirements.txt's packages at the lock's versions"
    assert "matplotlib" not in specs and "matplotlib-base" in specs


def test_pyproject_declares_the_top_level_packages():
    import tomllib

    project = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = {}
    for requirement in project["dependencies"]:
        name, lower = re.match(r"^([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)$", requirement).groups()
        declared[_name(name)] = lower
    assert declared == pip_pins(), "pyproject.toml's dependencies must start at requirements.txt's pins"
    assert project["scripts"]["charrnn-sample"] == "lib.sample:main"


def _in_project_venv():
    return Path(sys.prefix).resolve() == (paths.REPO_ROOT / ".venv").resolve()


@pytest.mark.skipif(not _in_project_venv(), reason="not running in the project's .venv (e.g. VENV=none)")
def test_venv_holds_exactly_the_lock():
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True,
                            check=True).stdout
    installed = {}
    for line in frozen.splitlines():
        # The editable project itself appears as "-e ..." (after a comment line); it is not locked.
        if not line or line.startswith(("#", "-e ")):
            continue
        name, version = line.split("==")
        installed[_name(name)] = version
    locked = {name: version for name, (version, _) in lock_entries().items()}
    missing = sorted(set(locked) - set(installed))
    extra = sorted(set(installed) - set(locked))
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
