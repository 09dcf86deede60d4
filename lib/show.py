"""How samples are picked and labelled for reading (notebooks and report), and how a notebook
finds the run folder it was given."""

from pathlib import Path

from . import paths, rundir


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
    return f"step {sample['step']:,}, smooth loss {sample['smooth_loss']:.2f}"


def run_folder(run_dir, default):
    """The run folder a notebook's run_dir names (default when None or empty), as an absolute path.

    A relative path is taken from the current folder, as a shell would; where nothing is
    there it is taken from the repository root, so that a folder printed relative to the
    root (runs/train_10ep) also works from notebooks/, Jupyter's folder. Raises
    rundir.RunFolderError naming both places when neither holds it.
    """
    if run_dir is None or str(run_dir) == "":
        return Path(default)
    given = Path(run_dir).expanduser()
    here = given.resolve()
    if given.is_absolute() or here.is_dir():
        return here
    from_root = (paths.REPO_ROOT / given).resolve()
    if from_root.is_dir():
        return from_root
    raise rundir.RunFolderError(f"run_dir {run_dir} does not exist (looked in {here} and in {from_root}): "
                                f"train it first with notebooks/train.ipynb")
