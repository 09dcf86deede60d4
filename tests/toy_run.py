"""The tiny training runs that the lifecycle tests train through lib.training.runner."""

from lib.training import runner

# A run of a few hundred updates on toy_corpus.learnable_text (the `text_file` fixture).
TOY = dict(m=5, log_every=10, synth_every=50, synth_len=20, checkpoint_every=50)


def params(text_file, out, **extra):
    """The train notebook's parameters for a toy run of text_file in out (extra overrides)."""
    return dict(dict(data_path=str(text_file), out_dir=str(out), **TOY), **extra)


def run_lib(text_file, out, **extra):
    """Plan and execute a toy run without a progress display; returns execute's result."""
    return runner.execute(runner.plan(**params(text_file, out, **extra)), progress=None)
