"""Whether a person is looking: a live Jupyter front end, a headless run (papermill, nbconvert), or
a front end that cannot be told apart."""

import os

import psutil

# Set to 1 to treat a front end this module does not recognise as live, 0 to never do so.
FORCE_ENV = "CHARRNN_WIDGETS"
# Set to 1 by lib.jupyter.nbexec for the kernels it starts (make's stages, the report): nobody looks.
HEADLESS_ENV = "CHARRNN_HEADLESS"
# Programs that execute notebooks with nobody looking, as their command lines name them
# (python -m papermill, the papermill script, jupyter nbconvert --execute, jupyter execute).
HEADLESS_RUNNERS = ("papermill", "jupyter-nbconvert", "jupyter-execute")


def _request():
    """The content of the request the kernel is executing, or None outside an IPython kernel."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:
        return None
    try:
        return kernel.get_parent("shell").get("content", {})
    except (AttributeError, TypeError):
        return None


def _launched_by_headless_runner():
    """Whether the process that started this kernel is papermill or nbconvert (its program, or
    python -m NAME: the first three words of its command line, not the paths it was given)."""
    try:
        parent = psutil.Process().parent()
        words = parent.cmdline()[:3] if parent is not None else []
    except (OSError, psutil.Error):
        return False
    # The program's name without folder or extension, whichever separator (papermill.exe on Windows).
    names = [word.replace("\\", "/").rsplit("/", 1)[-1].split(".")[0].lower() for word in words]
    return any(name in HEADLESS_RUNNERS for name in names)


def frontend():
    """"live", "headless" or "unknown" for code in an IPython kernel; None outside one.

    Jupyter Lab and Notebook send allow_stdin=True with each cell: live. papermill and
    nbconvert (nbclient) send False, but so do some editors (older VS Code) and others
    send nothing, so a kernel is headless only when it was started by lib.jupyter.nbexec or by
    papermill or nbconvert; anything else is unknown. CHARRNN_WIDGETS=1 or =0 overrides
    the guess with live or headless.
    """
    forced = os.environ.get(FORCE_ENV, "").strip()
    if forced in ("0", "1"):
        return "live" if forced == "1" else "headless"
    request = _request()
    if request is None:
        return None
    if request.get("allow_stdin") is True:
        return "live"
    if os.environ.get(HEADLESS_ENV) == "1" or _launched_by_headless_runner():
        return "headless"
    return "unknown"


def live_frontend():
    """True when this code runs in an IPython kernel driven by a front end known to show widgets."""
    return frontend() == "live"
