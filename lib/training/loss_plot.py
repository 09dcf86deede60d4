"""The loss figure: smooth loss against update step, drawn by the training notebook, written
into the run folder (loss.png, loss.pdf) and redrawn by the report."""

import math

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

from lib.atomic import save_figure


def loss_text(loss, digits=3):
    """A loss as text, never "-0.000": a cross-entropy is not below 0, but where the model is sure
    (p = 1 after rounding) -log p comes out as -0.0 or -1e-16."""
    return f"{loss if loss > 0 else 0.0:.{digits}f}"


def loss_unit(summary):
    """What a run's losses are measured in: per sequence of seq_length characters (loss "sum",
    the 2021 handout) or per character (loss "mean", 2026)."""
    if summary.get("loss", "sum") == "mean":
        return "nats per character"
    return f"nats per {summary['seq_length']}-character sequence"


def plot_smooth_loss(history, epoch_starts, ax=None, title=None, unit="nats per sequence"):
    """Smooth loss against update step, epoch starts as dotted lines, val bits/char if any.

    Args:
        history: dict of lists step, smooth_loss, val_bpc (NaN where not evaluated).
        epoch_starts: update steps at which each epoch began (the first is 0).
        ax: matplotlib Axes to draw on (a new figure when None).
        unit: what the loss is measured in (``loss_unit``), for the axis label.
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
    ax.set_ylabel(f"smooth loss ({unit})")
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


def run_length(summary):
    """What a run trained, in words: '10 epochs', or '30,000 updates (0.68 of an epoch)' when
    max_steps stopped it before its epochs were done."""
    steps, per_epoch = summary["steps"], summary.get("steps_per_epoch")
    if not per_epoch or steps >= summary["epochs"] * per_epoch:
        return f"{summary['epochs']} epoch{'s' if summary['epochs'] != 1 else ''}"
    done = steps / per_epoch
    return f"{steps:,} updates ({done:.2g} of an epoch)" if done < 1 else f"{steps:,} updates ({done:.3g} epochs)"


def loss_figure(history, summary):
    """A training run's smooth-loss figure, titled with its settings and what it trained."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    plot_smooth_loss(history, summary["epoch_starts"], ax, unit=loss_unit(summary),
                     title=f"{summary.get('protocol', '2021')} protocol: {summary.get('optimizer', 'adagrad')}, "
                           f"m={summary['m']}, eta={summary['eta']}, seq_length={summary['seq_length']}, "
                           f"loss {summary.get('loss', 'sum')}, {run_length(summary)}")
    return fig


def save_loss_figure(history, summary, out_dir):
    """loss_figure saved as loss.png and loss.pdf in out_dir (and closed)."""
    fig = loss_figure(history, summary)
    save_figure(fig, out_dir, "loss")
    plt.close(fig)
