"""How samples are picked and labelled for reading (notebooks and report)."""


def pick_evolution(samples, every=10_000, up_to=100_000):
    """The samples at step 0 and every ``every`` steps up to ``up_to`` (as far as the run went)."""
    for name, value in (("every", every), ("up_to", up_to)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    wanted = set(range(0, up_to + 1, every))
    return [s for s in samples if s["step"] in wanted]


def sample_heading(sample):
    """'step 10,000, smooth loss 55.21' (or 'before the first update' at step 0)."""
    if sample["smooth_loss"] is None:
        return f"step {sample['step']:,} (before the first update)"
    return f"step {sample['step']:,}, smooth loss {sample['smooth_loss']:.2f}"
