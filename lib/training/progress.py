"""Progress of a training run: a bar in Jupyter, plain lines on a terminal.

Under papermill or make nobody sees a widget drawn inside the kernel, so there
the progress goes as one plain line at least every ``every`` seconds to the
kernel's terminal: ``sys.stderr.fileno()``, which ipykernel keeps pointing at
the stream it was started with (the notebook records none of it). A live
Jupyter front end gets the tqdm bar instead. A front end that cannot be told
apart (lib.jupyter: VS Code, Colab and others) gets the bar and the plain lines
in the cell's output, so that the progress shows whether or not it draws
widgets. All time themselves (``seconds``, CPU time, as the training loop is
timed), so the cost of showing progress can be reported.
"""

import os
import sys
import time

from lib.jupyter.front_end import frontend
from lib.training.loss_plot import loss_text


def _terminal_fd():
    """The file descriptor of the terminal (or log) the process was started with, or None."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            return stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue
    return None


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class LineProgress:
    """An on_event callback printing 'label: done/total updates, smooth loss[, held-out bits/char],
    wall-clock us/update, time left' at most every ``every`` seconds (wall time, evaluations
    included; the result line's us per update is CPU time in the updates alone)."""

    def __init__(self, total, label, start_step=0, every=15.0, stream_fd=None, stream=None):
        self.total, self.label, self.every = total, label, every
        self.stream = stream  # a text stream (the cell's sys.stdout) instead of a file descriptor
        self.fd = _terminal_fd() if stream_fd is None else stream_fd
        self.seconds = 0.0
        self.last_time = self.start_time = time.perf_counter()
        self.last_step = self.start_step = self.step = start_step
        self.smooth_loss = None
        self.val_bpc = None
        self._write(f"{label}: {start_step:,}/{total:,} updates to do from here" if start_step < total else
                    f"{label}: {start_step:,}/{total:,} updates, none left to do")

    def _write(self, line):
        try:
            if self.stream is not None:
                self.stream.write(line + "\n")
                self.stream.flush()
            elif self.fd is not None:
                os.write(self.fd, (line + "\n").encode("utf-8"))
        except (OSError, ValueError):
            pass  # a closed terminal (or stream) must not stop training

    def _line(self, step, now):
        rate = (now - self.last_time) / max(step - self.last_step, 1)
        left = (self.total - step) * rate
        smooth = "n/a" if self.smooth_loss is None else loss_text(self.smooth_loss, 2)
        held = "" if self.val_bpc is None else f", held-out {self.val_bpc:.3f} bits/char"
        return (f"{self.label}: {step:,}/{self.total:,} updates ({100 * step / max(self.total, 1):.0f}%), "
                f"smooth loss {smooth}{held}, {1e6 * rate:.0f} wall-clock us/update, {_clock(left)} left")

    def __call__(self, event):
        now, tick = time.perf_counter(), time.process_time()
        if event["kind"] == "log":
            self.smooth_loss, self.step = event["smooth_loss"], event["step"]
            if now - self.last_time >= self.every:
                self._write(self._line(event["step"], now))
                self.last_time, self.last_step = now, event["step"]
        elif event["kind"] == "eval":
            self.val_bpc = event["val_bpc"]
        elif event["kind"] == "checkpoint":  # (the last update is checkpointed, logged or not)
            self.step = max(self.step, event["step"])
        self.seconds += time.process_time() - tick

    def close(self):
        # (an interrupt or an error closes it too: then it says where training stopped)
        end = "done" if self.step >= self.total else f"done for now, at update {self.step:,} of {self.total:,}"
        self._write(f"{self.label}: {end}, {_clock(time.perf_counter() - self.start_time)} here")


class BarProgress:
    """A tqdm bar over updates with the smooth loss; prints samples as they come."""

    def __init__(self, total, start_step=0):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=start_step, unit="upd", mininterval=0.5,
                        smoothing=0.05, dynamic_ncols=True)
        self.seconds = 0.0

    def __call__(self, event):
        tick = time.process_time()
        kind = event["kind"]
        if kind == "log":
            self.bar.set_postfix(smooth_loss=loss_text(event["smooth_loss"], 2), epoch=event["epoch"],
                                 refresh=False)
            self.bar.update(event["step"] - self.bar.n)
        elif kind == "sample":
            smooth = event["smooth_loss"]
            label = "n/a" if smooth is None else f"{smooth:.2f}"
            self.bar.write(f"--- step {event['step']}, smooth loss {label} ---\n{event['text']}\n")
        elif kind == "eval":
            self.bar.write(f"step {event['step']}: held-out {event['val_bpc']:.3f} bits/char")
        self.seconds += time.process_time() - tick

    def close(self):
        self.bar.close()


class BarAndLines:
    """The bar and the plain lines in the cell's output, for a front end that may not draw the bar."""

    def __init__(self, total, label, start_step=0):
        self.parts = (BarProgress(total, start_step), LineProgress(total, label, start_step, stream=sys.stdout))

    @property
    def seconds(self):
        return sum(part.seconds for part in self.parts)

    def __call__(self, event):
        for part in self.parts:
            part(event)

    def close(self):
        for part in self.parts:
            part.close()


class NoProgress:
    seconds = 0.0

    def __call__(self, event):
        pass

    def close(self):
        pass


def make_progress(total, label, start_step=0, mode="auto"):
    """A progress callback: mode "auto" (see auto_mode), "bar", "bar+lines", "lines" or None."""
    if mode == "auto":
        mode = auto_mode()
    if mode == "bar":
        return BarProgress(total, start_step)
    if mode == "bar+lines":
        return BarAndLines(total, label, start_step)
    if mode == "lines":
        return LineProgress(total, label, start_step)
    return NoProgress()


def auto_mode():
    """"bar" in a live Jupyter front end, "bar+lines" in one that cannot be told apart, "lines" in a
    headless kernel (papermill, make) and outside Jupyter."""
    return {"live": "bar", "unknown": "bar+lines"}.get(frontend(), "lines")
