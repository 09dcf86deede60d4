#!/usr/bin/env python3
"""Regenerate the hashed locks and check that they install on every supported target.

    python tools/lock.py [--upgrade] [--check-only]

``make lock`` runs this; it needs no make, only a Python 3.11+ and the package index.

1. uv, at the version requirements-uv.lock pins, is installed with pip into build/uv
   (the same place and the same way as ``make install`` gets it).
2. requirements.lock is compiled from requirements.txt as one *universal* lock: every
   package any target needs, each line with the environment markers saying where it
   applies (``colorama ; sys_platform == 'win32'``), with the sha256 of each of its files.
   Versions already locked are kept where they still fit; --upgrade takes the newest.
   requirements-uv.lock is compiled again too (--upgrade: the newest uv).
3. Every target of the matrix (TARGETS x PYTHONS) is resolved from the lock with a
   dry-run install that requires hashes and wheels (a student should never need a
   compiler): the matrix is printed, and the command fails naming each target that does not
   resolve. --check-only does this step alone, on the locks as they are.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINS = ROOT / "requirements.txt"
LOCK = ROOT / "requirements.lock"
UV_LOCK = ROOT / "requirements-uv.lock"
UV_DIR = ROOT / "build" / "uv"
# The lowest Python the project supports: a universal lock holds what it and every later one needs.
LOWEST_PYTHON = "3.11"
PYTHONS = ("3.11", "3.12", "3.13", "3.14")
# uv's platform names: (what the matrix prints, --python-platform).
TARGETS = (
    ("Linux x86_64", "x86_64-unknown-linux-gnu"),
    ("macOS arm64", "aarch64-apple-darwin"),
    ("macOS x86_64", "x86_64-apple-darwin"),
    ("Windows x86_64", "x86_64-pc-windows-msvc"),
)
COMMAND = "python tools/lock.py"

# requirements.txt's groups: a comment line "# [name]: ..." starts one; before the first, "base".
_GROUP_HEADER = re.compile(r"^#\s*\[([a-z]+)\]")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==(\S+)$")


class LockError(Exception):
    """A step of the lock command failed; the message says which and why, in one line."""


def normalized(name):
    """A distribution name as pip compares them (PEP 503): lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pin_groups(path=PINS):
    """requirements.txt as {group: {name: version}}: "base" (the package's own dependencies),
    then each "# [group]" section (pyproject's extras, and "constraints": versions held back
    without being asked for)."""
    groups, group = {"base": {}}, "base"
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        header = _GROUP_HEADER.match(line.strip())
        if header:
            group = header.group(1)
            groups.setdefault(group, {})
            continue
        requirement = line.split("#")[0].strip()
        if not requirement:
            continue
        pin = _PIN.match(requirement)
        if not pin:
            raise LockError(f"{path}: line {number} is not name==version: {requirement!r}")
        groups[group][normalized(pin.group(1))] = pin.group(2)
    return groups


def locked_uv_version(path=UV_LOCK):
    """The uv version requirements-uv.lock pins."""
    match = re.search(r"^uv==(\S+)", Path(path).read_text(encoding="utf-8"), re.M)
    if not match:
        raise LockError(f"{path} pins no uv==<version>")
    return match.group(1)


def uv_executable():
    """build/uv's uv, installed from requirements-uv.lock with hash checking when missing."""
    names = ("uv.exe", "uv") if os.name == "nt" else ("uv",)
    candidates = [UV_DIR / folder / name for folder in ("bin", "Scripts") for name in names]
    found = [path for path in candidates if path.is_file()]
    if found:
        return found[0]
    print(f"installing uv into {UV_DIR.relative_to(ROOT)} from {UV_LOCK.name}", flush=True)
    run([sys.executable, "-m", "pip", "install", "-qq", "--disable-pip-version-check", "--no-compile",
         "--only-binary=:all:", "--require-hashes", "--target", str(UV_DIR), "-r", str(UV_LOCK)],
        f"pip could not install uv from {UV_LOCK.name}")
    found = [path for path in candidates if path.is_file()]
    if not found:
        raise LockError(f"pip installed uv into {UV_DIR} but no uv executable is there")
    return found[0]


def run(command, failure, quiet=False):
    """Run command from the repository root; LockError(failure + uv's or pip's last line) if it fails."""
    result = subprocess.run([str(part) for part in command], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        raise LockError(f"{failure}: {lines[-1].strip() if lines else 'exit status ' + str(result.returncode)}")
    if not quiet and result.stderr.strip():
        print(result.stderr.strip(), flush=True)
    return result


def compile_locks(uv, upgrade, work):
    """Write requirements.lock and requirements-uv.lock, each through a temp file so that a
    failed compile leaves the old lock whole."""
    groups = read_pin_groups()
    constraints = groups.pop("constraints", {})
    wanted = work / "requirements.in"
    wanted.write_text("".join(f"{name}=={version}\n" for group in groups.values()
                              for name, version in group.items()), encoding="utf-8")
    held = work / "constraints.txt"
    held.write_text("".join(f"{name}=={version}\n" for name, version in constraints.items()), encoding="utf-8")
    common = ["pip", "compile", "--quiet", "--universal", "--generate-hashes", "--python-version", LOWEST_PYTHON,
              "--custom-compile-command", COMMAND] + (["--upgrade"] if upgrade else [])
    for source, lock, extra in ((wanted, LOCK, ["--constraint", held]),
                                (None, UV_LOCK, [])):
        draft = work / lock.name
        if lock.exists():
            shutil.copyfile(lock, draft)  # uv keeps the versions it finds in the output file
        if source is None:  # the installer: one pin, the current one unless upgrading
            source = work / "uv.in"
            source.write_text("uv\n" if upgrade else f"uv=={locked_uv_version()}\n", encoding="utf-8")
        run([uv, *common, *extra, "--output-file", draft, source], f"uv could not compile {lock.name}")
        # uv names the temp input in each line's "via" note; the lock should name requirements.txt.
        text = draft.read_text(encoding="utf-8").replace(str(source), PINS.name if lock == LOCK else "uv.in")
        lock.write_text(text, encoding="utf-8")
        print(f"wrote {lock.name}", flush=True)


def check_matrix(uv, work):
    """Dry-run install the lock for every target; print the matrix; return the targets that fail."""
    environment = work / "check-venv"
    run([uv, "venv", "--quiet", "--python", sys.executable, environment], "uv could not make a venv to check in")
    python = environment / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    failed, rows = [], []
    for label, platform in TARGETS:
        cells = []
        for version in PYTHONS:
            result = subprocess.run(
                [str(uv), "pip", "install", "--dry-run", "--python", str(python), "--python-platform", platform,
                 "--python-version", version, "--require-hashes", "--only-binary", ":all:", "-r", str(LOCK)],
                cwd=ROOT, capture_output=True, text=True)
            output = result.stderr + result.stdout
            if result.returncode == 0:
                count = len(re.findall(r"^ \+ ", output, re.M))
                cells.append(f"ok ({count})")
            else:
                cells.append("FAILS")
                reason = [line.strip() for line in output.splitlines() if line.strip().startswith(("cause:", "error:"))]
                failed.append(f"{label}, Python {version}: {reason[-1] if reason else output.strip()[-200:]}")
        rows.append((label, cells))
    width = max(len(label) for label, _ in rows)
    print(f"\ndry-run install of {LOCK.name} (--require-hashes, wheels only; packages per target):")
    print(f"{'':<{width}}  " + "  ".join(f"{'Python ' + v:<12}" for v in PYTHONS))
    for label, cells in rows:
        print(f"{label:<{width}}  " + "  ".join(f"{cell:<12}" for cell in cells))
    return failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="take the newest versions that fit requirements.txt")
    parser.add_argument("--check-only", action="store_true", help="only check the locks as they are on every target")
    args = parser.parse_args(argv)
    try:
        uv = uv_executable()
        with tempfile.TemporaryDirectory(prefix="lock-") as temp:
            work = Path(temp)
            if not args.check_only:
                compile_locks(uv, args.upgrade, work)
            failed = check_matrix(uv, work)
    except LockError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    if failed:
        for target in failed:
            print(f"error: the lock does not install on {target}", file=sys.stderr)
        return 1
    if args.check_only:
        print("every target resolves")
    else:
        print(f"every target resolves; now rebuild the environment (make install) and bring environment.yml's "
              f"versions in line with {LOCK.name} (tests/test_repository.py checks them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
