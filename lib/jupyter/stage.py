"""Run one notebook as a make stage: all or nothing, and one line when it fails.

    python -m lib.jupyter.stage NOTEBOOK EXECUTED [-p NAME VALUE ...] [--all-parameters]

The executed notebook is written to a temporary file and moved to EXECUTED only
when every cell succeeded, so a failed rerun never replaces the record of the
result a stage keeps. A failure prints ``error: <stage>: <the exception's one
line>`` (no traceback), records that line in ``<folder of EXECUTED's run
root>/.failed/`` for ``python -m lib.jupyter.stage --failures DIR`` to repeat at the very
end of make's output, and exits 1. An interrupt (Ctrl-C) prints one line and exits 130.
With --all-parameters (make's stages), every parameter of the notebook that -p does not give is
passed at the project's default (lib.checks.NOTEBOOK_DEFAULTS; train.ipynb's are the table of
lib/training/settings.py), so that a value saved in the notebook's parameters cell (JupyterLab
autosaves an edit) never reaches make's runs.
"""

import argparse
import logging
import os
import sys
from pathlib import Path

import yaml

from lib.jupyter import nbexec


def _value(text):
    # papermill's -p reads its value as YAML would (numbers, booleans, None).
    return yaml.safe_load(text)


def run_stage(notebook, executed, parameters, failures_dir):
    nbexec.skip_iri_grammar()
    import papermill

    executed = Path(executed)
    root = Path(failures_dir).parent  # make's runs folder
    label = os.path.relpath(executed.parent, root) if executed.parent != root else executed.stem
    flat = label.replace(os.sep, "_")
    tmp_dir = root / ".stage-tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{flat}.{executed.name}"
    failure_file = Path(failures_dir) / f"{flat}.{executed.stem}"
    failure_file.unlink(missing_ok=True)
    try:
        nbexec.execute(notebook, tmp, parameters, cwd=os.getcwd())
    except KeyboardInterrupt:
        # Ctrl-C reaches make, this process and the kernel at once: no failure to record, no
        # traceback; a training run keeps its last checkpoint for the next make to continue from.
        tmp.unlink(missing_ok=True)
        # The cell the kernel was running ends in an error that no one awaits now; asyncio would
        # log it, with two tracebacks, as the process exits.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        print(f"interrupted: {label} ({Path(notebook).name}): run make again to redo it, or to continue "
              f"a training run from its last checkpoint", file=sys.stderr)
        return 130
    except papermill.PapermillExecutionError as err:
        line = f"error: {label} ({Path(notebook).name}): {err.ename}: {err.evalue}".splitlines()[0]
    except Exception as err:  # a kernel that died, a notebook that cannot be read
        line = f"error: {label} ({Path(notebook).name}): {type(err).__name__}: {err}".splitlines()[0]
    else:
        executed.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, executed)
        return 0
    tmp.unlink(missing_ok=True)
    failure_file.parent.mkdir(parents=True, exist_ok=True)
    failure_file.write_text(line + "\n", encoding="utf-8")
    print(line, file=sys.stderr)
    return 1


def print_failures(failures_dir):
    """Repeat every recorded failure line (the last thing make prints); exit status 1."""
    for path in sorted(Path(failures_dir).glob("*")):
        print(path.read_text(encoding="utf-8").rstrip(), file=sys.stderr)
    return 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", nargs="?")
    parser.add_argument("executed", nargs="?")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--failures-dir", default="runs/report/.failed")
    parser.add_argument("--failures", metavar="DIR", help="print the failure lines recorded in DIR")
    parser.add_argument("--all-parameters", action="store_true",
                        help="pass every parameter not given at the project's default (lib.checks.NOTEBOOK_DEFAULTS)")
    args = parser.parse_args(argv)
    if args.failures:
        return print_failures(args.failures)
    if not (args.notebook and args.executed):
        parser.error("NOTEBOOK and EXECUTED are required")
    parameters = {k: _value(v) for k, v in args.p}
    if args.all_parameters:
        from lib.checks import NOTEBOOK_DEFAULTS

        name = Path(args.notebook).stem
        if name not in NOTEBOOK_DEFAULTS:
            parser.error(f"--all-parameters: {args.notebook} is none of the project's notebooks "
                         f"({', '.join(sorted(NOTEBOOK_DEFAULTS))})")
        parameters = dict(NOTEBOOK_DEFAULTS[name], **parameters)
    return run_stage(args.notebook, args.executed, parameters, args.failures_dir)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # a second Ctrl-C, or one before the notebook started
        print("interrupted", file=sys.stderr)
        sys.exit(130)
