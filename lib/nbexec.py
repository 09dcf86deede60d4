"""How the project's commands execute and convert notebooks (make's stages, report/build.py).

Two things differ from calling papermill and ``jupyter nbconvert`` plainly:

* The kernel talks over socket files in a fresh temporary folder (ZeroMQ's ipc
  transport), not TCP ports. Over TCP, papermill picks its kernel's five ports by
  asking the system for free ones, and the kernel binds them a second or more later.
  Stages that start together sometimes drew the same port; the kernel that lost
  hung, and the stage failed a minute later with "Kernel didn't respond in 60
  seconds" (measured: 1 start in 80, eight stages at once on a busy machine).
* ``rfc3987_syntax`` is not imported. nbformat, which papermill and nbconvert load,
  imports jsonschema, whose format checkers load that module when it is installed
  (jupyter-events brings it in); it builds parsers for the IRI grammar as it loads,
  2.2 s of CPU here in every process. No notebook schema uses the two "iri" formats
  it checks, and jsonschema goes on without them when the module is missing.

    python -m lib.nbexec nbconvert ARGS...    # jupyter nbconvert ARGS..., the same way
"""

import sys
import tempfile

SLOW_MODULE = "rfc3987_syntax"


def skip_iri_grammar():
    """Make ``import rfc3987_syntax`` fail at once. Call before papermill, nbformat or
    nbconvert is imported; afterwards (or where it is already loaded) it changes nothing."""
    sys.modules.setdefault(SLOW_MODULE, None)


def execute(notebook, executed, parameters, cwd):
    """papermill.execute_notebook(notebook -> executed) with ``parameters``, run in cwd.

    The kernel logs only critical lines (it would log an "error" for the interrupt that
    ends it, noise in make's output); cell errors still come through as
    papermill.PapermillExecutionError."""
    skip_iri_grammar()
    import papermill
    from traitlets.config import Config

    with tempfile.TemporaryDirectory(prefix="kernel-") as socket_dir:
        # Socket files are named <ip>-<n>; the folder is this kernel's alone.
        sockets = Config({"KernelManager": {"transport": "ipc", "ip": f"{socket_dir}/kernel"}})
        papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, cwd=str(cwd),
                                   progress_bar=False, config=sockets,
                                   extra_arguments=["--IPKernelApp.log_level=CRITICAL"])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] != "nbconvert":
        print("usage: python -m lib.nbexec nbconvert ARGS...", file=sys.stderr)
        return 2
    skip_iri_grammar()
    from nbconvert.nbconvertapp import NbConvertApp

    NbConvertApp.launch_instance(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
