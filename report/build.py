"""Build the report: check the run files, execute report.ipynb, convert it to HTML and PDF.

    python report/build.py       # make report's runs (runs/report/seed*/...), or name them:
    python report/build.py --runs RUN... --seed-runs RUN... --gradcheck DIR

The report notebook reads and checks every run file once, in its first cell, before
anything is rendered (its title block included); the outputs are built in report/build/
and moved into place only when complete, so a missing or malformed file gives one
error naming it and leaves the previous report untouched (also when a viewer holds the
previous report.pdf open, which Windows does not let be replaced: named in one line).
Without XeLaTeX the PDF is skipped with what installs it on this system; the HTML
is still built.
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from lib import paths
from lib.atomic import WriteError, replace
from lib.jupyter import nbexec
from lib.report import report_inputs
from lib.training import run_files

REPORT_DIR = Path(__file__).resolve().parent
TEMPLATES = REPORT_DIR / "templates"


def convert(notebook, formats, build_dir):
    """nbconvert notebook to each of {fmt: template} in build_dir, all at once (one process
    each: the PDF's XeLaTeX runs while the HTML is written); returns the output paths."""
    running = {}
    for fmt, template in formats.items():
        cmd = [sys.executable, "-m", "lib.jupyter.nbexec", "nbconvert", "--to", fmt, "--no-input",
               f"--TemplateExporter.extra_template_basedirs={TEMPLATES}", "--template", template,
               "--output-dir", str(build_dir), str(notebook)]
        if fmt == "pdf":
            # Two XeLaTeX passes settle the bookmarks (there is no table of contents); a third,
            # nbconvert's default, gave the same pages and text here and cost ~4 s more.
            cmd.insert(-1, "--PDFExporter.latex_count=2")
        running[fmt] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    failed = []
    for fmt, process in running.items():
        stderr = process.communicate()[1]
        if process.returncode != 0:
            tail = "\n".join(stderr.strip().splitlines()[-15:])
            failed.append(f"nbconvert --to {fmt} failed:\n{tail}")
    if failed:
        raise RuntimeError("\n".join(failed))
    return [build_dir / f"{notebook.stem}.{fmt}" for fmt in formats]


def pdf_tools_missing():
    return [tool for tool in ("xelatex", "pandoc") if shutil.which(tool) is None]


def pdf_tools_hint(platform=sys.platform):
    """What installs the PDF's tools here (report/install_tex.sh is a bash script for Linux and macOS)."""
    if platform == "win32":
        return "install MiKTeX (https://miktex.org) and pandoc (https://pandoc.org), then build again"
    return "run `bash report/install_tex.sh` (or `make tex`) to install them"


def publish(built, out_dir, name="report"):
    """Move the built documents into place as <name>.<ext>, each whole (lib.atomic.replace: a viewer
    holding the old one open ends in WriteError naming it, and the old one stays)."""
    for path in built:
        target = Path(out_dir) / f"{name}{path.suffix}"
        replace(path, target)
        print(f"wrote {target}")


def build(run_dirs, gradcheck_dir, out_dir, command, seed_dirs=(), records_dir=None, name="report",
          experiments_dir=None, gated_dirs=None):
    """Execute the report notebook (which loads and checks every run file, once) and convert it
    into out_dir/<name>.pdf and .html."""
    build_dir = out_dir / "build"
    build_dir.mkdir(parents=True, exist_ok=True)
    executed = build_dir / f"{name}.ipynb"
    nbexec.execute(
        REPORT_DIR / "report.ipynb", executed, cwd=paths.REPO_ROOT,
        parameters={"run_dirs": [str(Path(d).resolve()) for d in run_dirs],
                    "seed_dirs": [str(Path(d).resolve()) for d in seed_dirs],
                    "gradcheck_dir": str(Path(gradcheck_dir).resolve()), "command": command,
                    "records_dir": str(Path(records_dir).resolve()) if records_dir is not None else None,
                    "experiments_dir": str(Path(experiments_dir).resolve()) if experiments_dir is not None else None,
                    "gated_dirs": [str(Path(d).resolve()) for d in gated_dirs] if gated_dirs else None})

    formats = {"html": "charrnn_html"}
    missing = pdf_tools_missing()
    if missing:
        print(f"warning: no PDF: {', '.join(missing)} not found; {pdf_tools_hint()}", file=sys.stderr)
    else:
        formats["pdf"] = "charrnn"
    publish(convert(executed, formats, build_dir), out_dir, name)


def main(argv=None):
    nbexec.skip_iri_grammar()
    import papermill  # (after the line above: see lib/jupyter/nbexec.py)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", help="the course's training-run folders (default: make report's)")
    parser.add_argument("--seed-runs", nargs="*", default=None,
                        help="one finished run per seed, for the spread (with --runs; default: none)")
    parser.add_argument("--gradcheck", help="folder with gradcheck.json (default: make report's)")
    parser.add_argument("--out-dir", default=str(REPORT_DIR), help="where report.pdf/.html go")
    parser.add_argument("--name", default="report", help="the documents' name: NAME.pdf and NAME.html")
    parser.add_argument("--command", default="make report", help="the command named in the report")
    parser.add_argument("--records", help="a record-mode run for the bonus section (with --runs, default: none, "
                                          "and the section says so)")
    parser.add_argument("--experiments", help="the bonus experiments' runs, <setting>/seed<s>/ (with --runs, "
                                              "default: none, and the section says so)")
    parser.add_argument("--gated", nargs="*", default=None,
                        help="the runs of the gated section: the course's network under each handout, the GRU, the LSTM "
                             "(default: none, and the section says so)")
    args = parser.parse_args(argv)
    try:
        # Given runs come with only what is given beside them; none given: make report's, all of them.
        if args.runs:
            runs_, seed_runs, gradcheck = args.runs, args.seed_runs or [], args.gradcheck
            records_run, experiments = args.records, args.experiments
            if not gradcheck:
                parser.error("--runs needs --gradcheck")
        else:
            runs_, seed_runs, gradcheck = report_inputs.discover_runs(paths.RUNS_DIR / "report")
            records_run = args.records or report_inputs.discover_records(paths.RUNS_DIR / "report")
            experiments = args.experiments or report_inputs.discover_experiments(paths.RUNS_DIR / "report")
        build([Path(r) for r in runs_], Path(gradcheck), Path(args.out_dir), args.command,
              [Path(r) for r in seed_runs], Path(records_run) if records_run else None, args.name,
              Path(experiments) if experiments else None, [Path(r) for r in args.gated] if args.gated else None)
    except (run_files.ArtifactError, WriteError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except papermill.PapermillExecutionError as err:
        if err.ename == "ArtifactError":  # a missing or malformed run file, named in one line
            print(f"error: {err.evalue}", file=sys.stderr)
        else:
            print(f"error: building the report failed: {err.ename}: {err.evalue}", file=sys.stderr)
        return 1
    except RuntimeError as err:
        print(f"error: building the report failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
