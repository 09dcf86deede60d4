"""The samples drawn during training, picked and labelled for reading (train.ipynb,
text_evolution.ipynb and the report)."""

from lib.training.loss_plot import loss_text


def pick_evolution(samples, every=10_000, up_to=100_000, final_step=None):
    """The samples at step 0 and every ``every`` steps up to ``up_to`` (as far as the run went),
    and the final model's, drawn at final_step (the run's last update), when that is not after up_to."""
    for name, value in (("every", every), ("up_to", up_to)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    wanted = set(range(0, up_to + 1, every))
    if final_step is not None and final_step <= up_to:
        wanted.add(final_step)
    return [s for s in samples if s["step"] in wanted]


def evolution_shortfall(run_steps, up_to, picked):
    """One line when the run is shorter than up_to asks, naming the last of the picked samples ('' when it is not)."""
    if run_steps >= up_to:
        return ""
    last = picked[-1]["step"] if picked else 0
    return (f"the run is shorter than asked: {run_steps:,} updates, up_to={up_to:,}, so the samples "
            f"stop at step {last:,}" + (", the final model's" if last == run_steps else ""))


def sample_heading(sample, final_step=None):
    """'step 10,000, smooth loss 55.21' (or 'before the first update' at step 0; ', the final
    model' at final_step)."""
    if sample["smooth_loss"] is None:
        return f"step {sample['step']:,} (before the first update)"
    final = ", the final model" if sample["step"] == final_step else ""
    return f"step {sample['step']:,}, smooth loss {loss_text(sample['smooth_loss'], 2)}{final}"
