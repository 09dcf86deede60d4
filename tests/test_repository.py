"""The repository itself: clean notebooks, environments that agree."""

import json
import re
import subprocess

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


def pip_pins():
    pins = {}
    for line in (paths.REPO_ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def conda_specs():
    specs = {}
    for line in (paths.REPO_ROOT / "environment.yml").read_text().splitlines():
        match = re.match(r"^\s+- ([A-Za-z0-9_.-]+)=([0-9.]+)\s*$", line)
        if match:
            specs[match.group(1).lower()] = match.group(2)
    return specs


def test_conda_and_pip_environments_agree():
    pins, specs = pip_pins(), conda_specs()
    specs.pop("python")
    assert sorted(pins) == sorted(specs), "requirements.txt and environment.yml name different packages"
    for name, version in pins.items():
        # conda's "numpy=2.4" means 2.4.*: the pip pin must lie inside it.
        assert version == specs[name] or version.startswith(specs[name] + "."), \
            f"{name}: pip pins {version}, conda asks for {specs[name]}"


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    for name, pinned in pip_pins().items():
        assert version(name) == pinned, f"{name} {version(name)} installed, {pinned} pinned"
