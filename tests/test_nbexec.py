"""lib.jupyter.nbexec: how make's stages and report/build.py run and convert notebooks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lib import paths
from lib.jupyter import front_end, nbexec


def _write_notebook(path, *sources):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, str(path))
    return path


def _kernel_connection(tmp_path):
    """Execute a notebook that prints its kernel's transport and ip; returns them."""
    notebook = _write_notebook(tmp_path / "probe.ipynb", "import json\nfrom ipykernel import get_connection_info\n"
                               "info = get_connection_info(unpack=True)\n"
                               "print(json.dumps({'transport': info['transport'], 'ip': info['ip']}))")
    executed = tmp_path / "out" / "probe.ipynb"
    executed.parent.mkdir()
    nbexec.execute(notebook, executed, {}, cwd=tmp_path)
    return json.loads(nbformat.read(str(executed), as_version=4).cells[0].outputs[0]["text"])


@pytest.mark.skipif(sys.platform == "win32", reason="Jupyter has no ipc transport on Windows")
def test_the_kernel_talks_over_socket_files_in_a_folder_of_its_own(tmp_path):
    """No TCP ports, so stages starting together cannot draw the same one; the folder goes afterwards."""
    info = _kernel_connection(tmp_path)
    assert info["transport"] == "ipc"
    socket_dir = Path(info["ip"]).parent
    assert socket_dir.name.startswith("kernel-") and socket_dir != tmp_path
    assert not socket_dir.exists()                     # removed with its socket files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "probe.ipynb"]


def _modules_after_import(skip):
    code = ("import sys\nfrom lib.jupyter import nbexec\n" + ("nbexec.skip_iri_grammar()\n" if skip else "")
            + "import papermill, nbconvert\nprint(sorted(m for m in ('jsonschema', 'rfc3987_syntax', 'lark') "
            "if sys.modules.get(m) is not None))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_papermill_and_nbconvert_load_without_the_iri_grammar():
    # The premise: without the skip, importing them builds the grammar (lark, rfc3987_syntax).
    assert _modules_after_import(skip=False) == "['jsonschema', 'lark', 'rfc3987_syntax']"
    assert _modules_after_import(skip=True) == "['jsonschema']"


def test_nbconvert_through_nbexec(tmp_path):
    notebook = _write_notebook(tmp_path / "tiny.ipynb", "answer_to_everything = 42")
    done = subprocess.run([sys.executable, "-m", "lib.jupyter.nbexec", "nbconvert", "--to", "html", str(notebook)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "answer_to_everything" in (tmp_path / "tiny.html").read_text(encoding="utf-8")
    usage = subprocess.run([sys.executable, "-m", "lib.jupyter.nbexec"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and usage.stderr.startswith("usage: python -m lib.jupyter.nbexec nbconvert")


def test_a_killed_stages_socket_folder_is_removed_by_the_next_stage(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()                                        # a pid that no longer runs
    orphan = tmp_path / f"kernel-{gone.pid}-abc123"
    orphan.mkdir()
    (orphan / "kernel-1").write_text("")                # where a socket file would be
    alive = tmp_path / f"kernel-{os.getpid()}-def456"  # a stage still running
    alive.mkdir()
    others = [tmp_path / "kernel-notapid-x", tmp_path / "kernels-1-x", tmp_path / "kernel-1"]
    for other in others:
        other.mkdir()
    assert nbexec.remove_orphaned_socket_dirs(tmp_path) == [orphan]
    assert not orphan.exists() and alive.is_dir() and all(other.is_dir() for other in others)


@pytest.mark.skipif(sys.platform == "win32", reason="uids (os.getuid) and symlinks a user may make are POSIX's")
def test_socket_folders_of_others_or_that_vanish_are_passed_over(tmp_path, monkeypatch):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    link = tmp_path / f"kernel-{gone.pid}-link"
    link.symlink_to(tmp_path)                          # not a folder of its own: kept
    vanishing = tmp_path / f"kernel-{gone.pid}-vanish"
    vanishing.mkdir()
    real_lstat = Path.lstat

    def lstat_after_its_stage_removed_it(path):
        if path == vanishing:
            path.rmdir()
        return real_lstat(path)
    monkeypatch.setattr(Path, "lstat", lstat_after_its_stage_removed_it)
    assert nbexec.remove_orphaned_socket_dirs(tmp_path) == []
    assert link.is_symlink() and tmp_path.is_dir()
    someone_else = os.getuid() + 1
    monkeypatch.setattr(nbexec.os, "getuid", lambda: someone_else)     # another user's folder: kept
    theirs = tmp_path / f"kernel-{gone.pid}-theirs"
    theirs.mkdir()
    assert nbexec.remove_orphaned_socket_dirs(tmp_path) == [] and theirs.is_dir()


# ----------------------------------------------------------- Windows and macOS

def test_where_ipc_does_not_work_the_kernel_talks_over_tcp(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    assert nbexec.ipc_available() is False             # Jupyter has no ipc on Windows
    monkeypatch.undo()
    assert nbexec.ipc_available() is (sys.platform != "win32")  # (and this machine has it, but Windows)
    monkeypatch.setattr(nbexec, "ipc_available", lambda: False)
    monkeypatch.setattr(nbexec, "remove_orphaned_socket_dirs", lambda parent=None: pytest.fail("no socket folders"))
    info = _kernel_connection(tmp_path)
    assert info["transport"] == "tcp" and info["ip"] == "127.0.0.1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "probe.ipynb"]


def test_socket_folders_are_swept_without_uids(tmp_path, monkeypatch):
    """Windows has no os.getuid (nor uids in lstat): its temporary folder is the user's own."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    orphan = tmp_path / f"kernel-{gone.pid}-abc123"
    orphan.mkdir()
    monkeypatch.delattr(os, "getuid", raising=False)  # (already so on Windows)
    assert nbexec.remove_orphaned_socket_dirs(tmp_path) == [orphan]


UNIX_ONLY = ("fcntl", "resource", "pwd", "grp", "termios")


def test_every_lib_module_imports_without_unix_only_modules():
    """As on Windows, where these standard-library modules do not exist. psutil is loaded first: it
    picks its backend by platform, and its Linux one (never loaded on Windows) needs resource."""
    code = ("import importlib, pkgutil, sys\nimport psutil\n"
            f"for name in {UNIX_ONLY!r}:\n    sys.modules[name] = None\n"
            "try:\n    import fcntl\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit('fcntl still imports')\n"
            "import lib\nfailed = []\n"
            "for module in pkgutil.walk_packages(lib.__path__, 'lib.'):\n"
            "    if module.name.endswith('.__main__'):\n        continue  # a command: importing it runs it\n"
            "    try:\n        importlib.import_module(module.name)\n"
            "    except ImportError as err:\n        failed.append(f'{module.name}: {err}')\n"
            "print(len(list(pkgutil.walk_packages(lib.__path__, 'lib.'))), failed)")
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    count, failed = done.stdout.split(" ", 1)
    assert failed.strip() == "[]" and int(count) >= 40


def test_kernels_started_through_nbexec_know_they_are_headless(tmp_path):
    """make's stages and the report: the progress goes to the terminal, not into the notebook."""
    notebook = _write_notebook(tmp_path / "probe.ipynb", "from lib.jupyter import front_end\n"
                               "from lib.training import progress\n"
                               "print(front_end.frontend(), progress.auto_mode())")
    executed = tmp_path / "probe.out.ipynb"
    nbexec.execute(notebook, executed, {}, cwd=paths.REPO_ROOT)
    assert nbformat.read(str(executed), as_version=4).cells[0].outputs[0]["text"].strip() == "headless lines"
    assert front_end.HEADLESS_ENV not in os.environ         # this process's own environment is left as it was
