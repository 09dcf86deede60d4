"""Keep what was installed in .venv beyond the lock (PyTorch, say) across make install's rebuild.

make install rebuilds the venv from the lock alone (python -m venv --clear), which would drop a package
installed there by hand, such as the optional PyTorch, in the middle of a session. Before the rebuild,
`save` moves the files of every distribution the lock does not name into a stash beside the venv; after
it, `restore` moves them back, so nothing is downloaded again, and says in one line what it kept. A
distribution it cannot keep (the rebuilt venv runs another Python, or the new lock now installs it
itself) is named with the command that adds it back.

    python tools/venv_extras.py save VENV STASH LOCK
    python tools/venv_extras.py restore VENV STASH LOCK
"""

import json
import os
import re
import shutil
import sys
from importlib import metadata
from pathlib import Path

# Installed by python -m venv itself, not by anyone's hand.
SEEDED = {"pip", "setuptools"}
PROJECT = "char-rnn-notebooks"
MANIFEST = "kept.json"
# In the venv: the names make install put there (written by restore, before it puts the extras back), so
# that a package an older lock brought and the new one drops is not taken for one installed by hand.
INSTALLED_RECORD = ".lock-installed.json"


def normalized(name):
    """A distribution's name as PEP 503 compares names: lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_names(lock):
    """The normalized names requirements.lock pins (on any platform)."""
    text = Path(lock).read_text(encoding="utf-8")
    return {normalized(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", text, re.MULTILINE)}


def site_packages(venv):
    """The venv's site-packages folder (lib/pythonX.Y/site-packages, or Lib/site-packages on Windows), or None."""
    found = sorted(Path(venv).glob("lib/python3*/site-packages")) + sorted(Path(venv).glob("Lib/site-packages"))
    return found[0] if found else None


def venv_python_version(venv):
    """"3.12" for a venv made by Python 3.12 (its pyvenv.cfg), or None."""
    cfg = Path(venv) / "pyvenv.cfg"
    if not cfg.is_file():
        return None
    found = re.search(r"^version(?:_info)?\s*=\s*(\d+\.\d+)", cfg.read_text(encoding="utf-8"), re.MULTILINE)
    return found.group(1) if found else None


def extras(venv, lock):
    """[(distribution, its normalized name)] installed in venv that the lock does not name."""
    where = site_packages(venv)
    if where is None:
        return []
    record = Path(venv) / INSTALLED_RECORD
    locked = set(json.loads(record.read_text(encoding="utf-8"))) if record.is_file() else locked_names(lock)
    locked |= SEEDED | {PROJECT}
    out = {}
    for dist in metadata.distributions(path=[str(where)]):
        name = normalized(dist.metadata["Name"] or "")
        if name and name not in locked and dist.files is not None:
            out.setdefault(name, dist)
    return [(out[name], name) for name in sorted(out)]


def _inside(path, folder):
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def save(venv, stash, lock):
    """Move every extra distribution's files from venv into stash (paths kept relative to venv)."""
    venv, stash = Path(venv).resolve(), Path(stash)
    kept = json.loads((stash / MANIFEST).read_text(encoding="utf-8")) if (stash / MANIFEST).is_file() else None
    found = extras(venv, lock)
    if not found:
        return
    if kept is None:     # a stash left by a rebuild that failed keeps its own record
        kept = {"python": venv_python_version(venv), "distributions": {}}
    stash.mkdir(parents=True, exist_ok=True)
    for dist, name in found:
        files = [Path(dist.locate_file(file)).resolve() for file in dist.files]
        files = [f for f in files if f.is_file() and _inside(f, venv)]
        requires = {normalized(re.match(r"[A-Za-z0-9._-]+", line).group(0)) for line in dist.requires or []}
        entry = kept["distributions"].setdefault(name, {"name": dist.metadata["Name"], "version": dist.version,
                                                        "requires": sorted(requires), "files": []})
        entry["files"] = sorted(set(entry["files"]) | {f.relative_to(venv).as_posix() for f in files})
        # The record first, then the moves: a move cut short leaves files the record still finds.
        (stash / MANIFEST).write_text(json.dumps(kept, indent=1) + "\n", encoding="utf-8")
        for source in files:
            target = stash / "files" / source.relative_to(venv)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), str(target))


def restore(venv, stash, lock, out=sys.stdout):
    """Move the stashed files back into the rebuilt venv, where they still fit, and say what was kept or dropped."""
    shown, venv, stash = Path(venv).as_posix(), Path(venv).resolve(), Path(stash)
    installed = {normalized(d.metadata["Name"] or "") for d in metadata.distributions(path=[str(site_packages(venv))])}
    (venv / INSTALLED_RECORD).write_text(json.dumps(sorted(installed)) + "\n", encoding="utf-8")
    if not (stash / MANIFEST).is_file():
        return
    kept = json.loads((stash / MANIFEST).read_text(encoding="utf-8"))
    python = venv_python_version(venv)
    back, dropped = {}, []
    for name, dist in sorted(kept["distributions"].items()):
        said = f"{dist['name']} {dist['version']}"
        if python != kept["python"]:
            dropped.append((said, dist, f"the rebuilt venv runs Python {python}, the old one {kept['python']}"))
        elif name in installed or name in locked_names(lock):
            dropped.append((said, dist, "the lock installs it now"))
        else:
            for relative in dist["files"]:
                source, target = stash / "files" / relative, venv / relative
                if source.is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(source), str(target))
            back[name] = said
    shutil.rmtree(stash)
    if back:
        # Name what was asked for; what it brought along, as a count.
        brought = {r for name in back for r in kept["distributions"][name]["requires"]} & set(back)
        asked = [said for name, said in back.items() if name not in brought]
        also = f" (and {len(brought)} package{'s' * (len(brought) != 1)} {'they' if len(asked) > 1 else 'it'} " \
               f"brought)" if brought else ""
        print(f"kept what was installed in {shown} beyond the lock: {', '.join(asked)}{also}", file=out)
    for said, dist, why in dropped:
        if why == "the lock installs it now":
            print(f"{said}, installed in {shown} beyond the lock, is now the lock's version", file=out)
        else:
            python_path = f"{shown}/{'Scripts' if os.name == 'nt' else 'bin'}/python"
            print(f"note: dropped {said}, installed in {shown} beyond the lock ({why}): "
                  f"{python_path} -m pip install '{dist['name']}=={dist['version']}' adds it back"
                  f"{' (with the --index-url it came from)' if '+' in dist['version'] else ''}", file=out)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 4 or argv[0] not in ("save", "restore"):
        print("usage: python tools/venv_extras.py save|restore VENV STASH LOCK", file=sys.stderr)
        return 2
    (save if argv[0] == "save" else restore)(*argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
