"""Figures shared by the training notebook and the report."""

import math
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

from .atomic import atomic_write


def plot_smooth_loss(history, epoch_starts, ax=None, title=None):
    """Smooth loss against update step, epoch starts as dotted lines, val bits/char if any.

    Args:
        history: dict of lists step, smooth_loss, val_bpc (NaN where not evaluated).
        epoch_starts: update steps at which each epoch began (the first is 0).
        ax: matplotlib Axes to draw on (a new figure when None).
    Returns:
        The Axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot(history["step"], history["smooth_loss"], color="C0", lw=1.2, label="smooth loss")
    for i, start in enumerate(epoch_starts[1:], start=2):
        ax.axvline(start, color="0.6", ls=":", lw=0.9)
        ax.text(start, 1.0, f" ep {i}", transform=ax.get_xaxis_transform(), fontsize=7,
                color="0.4", va="top", ha="left")
    ax.set_xlabel("update step")
    ax.set_ylabel("smooth loss (nats per chunk)")
    if history["step"] and history["step"][-1] >= 10_000:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v else "0"))
    ax.grid(alpha=0.3)
    val = [(s, v) for s, v in zip(history["step"], history["val_bpc"]) if not math.isnan(v)]
    if val:
        twin = ax.twinx()
        twin.plot(*zip(*val), color="C3", marker=".", lw=1, label="held-out bits/char")
        twin.set_ylabel("held-out bits per character", color="C3")
        lines = ax.get_lines()[:1] + twin.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], loc="upper right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def save_figure(fig, out_dir, stem):
    """Save fig as stem.png and stem.pdf in out_dir, each atomically (a crash leaves no half a figure)."""
    for ext in ("png", "pdf"):
        atomic_write(Path(out_dir) / f"{stem}.{ext}",
                     lambda f, ext=ext: fig.savefig(f, format=ext, dpi=150, bbox_inches="tight"))


def loss_figure(history, summary):
    """A training run's smooth-loss figure, titled with its settings."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    plot_smooth_loss(history, summary["epoch_starts"], ax,
                     title=f"m={summary['m']}, eta={summary['eta']}, seq_length={summary['seq_length']}, "
                           f"{summary['epochs']} epochs")
    return fig


def save_loss_figure(history, summary, out_dir):
    """loss_figure saved as loss.png and loss.pdf in out_dir (and closed)."""
    fig = loss_figure(history, summary)
    save_figure(fig, out_dir, "loss")
    plt.close(fig)
