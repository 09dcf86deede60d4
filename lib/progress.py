"""A progress bar for train(): an on_event callback that also times itself."""

import time

from tqdm.auto import tqdm


class TrainingProgress:
    """tqdm bar over updates with the smooth loss in its postfix; prints samples as they come.

    Use as ``train(..., on_event=progress)``; ``progress.seconds`` is the time
    spent in the callback, so its cost can be reported against training time.
    """

    def __init__(self, total, print_samples=True, mininterval=0.5):
        self.bar = tqdm(total=total, unit="upd", mininterval=mininterval,
                        smoothing=0.05, dynamic_ncols=True)
        self.print_samples = print_samples
        self.seconds = 0.0

    def __call__(self, event):
        tick = time.perf_counter()
        kind = event["kind"]
        if kind == "log":
            self.bar.set_postfix(smooth_loss=f"{event['smooth_loss']:.2f}", epoch=event["epoch"],
                                 refresh=False)
            self.bar.update(event["step"] - self.bar.n)
        elif kind == "sample" and self.print_samples:
            smooth = event["smooth_loss"]
            label = "n/a" if smooth is None else f"{smooth:.2f}"
            self.bar.write(f"--- step {event['step']}, smooth loss {label} ---\n{event['text']}\n")
        elif kind == "eval":
            self.bar.write(f"step {event['step']}: held-out {event['val_bpc']:.3f} bits/char")
        self.seconds += time.perf_counter() - tick

    def close(self):
        self.bar.close()
