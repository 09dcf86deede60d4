"""Whether a person is looking: a live Jupyter front end, or a headless run (papermill, nbconvert)."""

import os

# Set to 1 to treat a front end this module does not recognise as live, 0 to never do so.
FORCE_ENV = "CHARRNN_WIDGETS"


def live_frontend():
    """True when this code runs in an IPython kernel driven by a frontend that can show widgets.

    papermill and nbconvert (nbclient) execute every cell with allow_stdin=False, while
    Jupyter Lab and Notebook send allow_stdin=True: that request field tells them apart.
    The environment variable CHARRNN_WIDGETS=1 or =0 overrides the guess.
    """
    forced = os.environ.get(FORCE_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return False
    try:
        request = kernel.get_parent("shell")
    except (AttributeError, TypeError):
        return False
    return bool(request.get("content", {}).get("allow_stdin", False))
