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


def evolution_missing(samples, every, up_to, run_steps):
    """One line naming the steps asked for (every ``every`` up to ``up_to``, as far as the run went) that
    the run drew no sample at, and the steps it did ('' when it has one at each)."""
    have = sorted({s["step"] for s in samples})
    missing = [step for step in range(0, min(up_to, run_steps) + 1, every) if step not in have]
    if not missing:
        return ""
    line = (f"no sample at step{'s' if len(missing) > 1 else ''} {_steps_text(missing)} of those asked for "
            f"(every={every:,}, up_to={up_to:,}): the run drew its samples at steps {_steps_text(have)}")
    drawn_every = have[1] if len(have) > 2 else None  # (the last sample is the final model's, at any step)
    if drawn_every and all(step == k * drawn_every for k, step in enumerate(have[:-1])):
        line += f"; an every that is a multiple of {drawn_every:,} finds one at each step"
    return line


def _steps_text(steps):
    """'0, 2,000 and 4,000' or, for many, '0, 2,000, 4,000, ..., 98,000, 100,000'."""
    shown = [f"{step:,}" for step in steps]
    if len(shown) > 6:
        return ", ".join(shown[:3] + ["..."] + shown[-2:])
    return " and ".join(filter(None, [", ".join(shown[:-1]), shown[-1]]))


def sample_heading(sample, final_step=None):
    """'step 10,000, smooth loss 55.21' (or 'before the first update' at step 0; ', the final
    model' at final_step)."""
    if sample["smooth_loss"] is None:
        return f"step {sample['step']:,} (before the first update)"
    final = ", the final model" if sample["step"] == final_step else ""
    return f"step {sample['step']:,}, smooth loss {loss_text(sample['smooth_loss'], 2)}{final}"
