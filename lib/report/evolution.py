"""The samples drawn during training, picked and labelled for reading (train.ipynb,
text_evolution.ipynb and the report)."""

from lib.training.loss_plot import loss_text


def pick_evolution(samples, every=10_000, up_to=100_000):
    """The samples at step 0 and every ``every`` steps up to ``up_to`` (as far as the run went)."""
    for name, value in (("every", every), ("up_to", up_to)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    wanted = set(range(0, up_to + 1, every))
    return [s for s in samples if s["step"] in wanted]


def evolution_shortfall(run_steps, up_to):
    """One line when the run is shorter than up_to asks ('' when it is not)."""
    if run_steps >= up_to:
        return ""
    return (f"the run is shorter than asked: {run_steps:,} updates, up_to={up_to:,}, so the samples "
            f"stop at step {run_steps:,} at the latest")


def sample_heading(sample):
    """'step 10,000, smooth loss 55.21' (or 'before the first update' at step 0)."""
    if sample["smooth_loss"] is None:
        return f"step {sample['step']:,} (before the first update)"
    return f"step {sample['step']:,}, smooth loss {loss_text(sample['smooth_loss'], 2)}"
