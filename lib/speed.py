"""Timings as ratios measured in one process: the fast path against PyTorch, and the runs' steps
against each other (bench.py, and the gradient-check notebook's paragraph for the report).

A machine's speed drifts by a quarter over minutes here, so nothing is timed alone: the runs
compared take turns, one repetition each, and each figure is a median; only their ratios mean
anything from one machine, or one minute, to the next.
"""

import statistics
import time

import numpy as np

from lib import gradcheck, rnn, rnn_fast


def time_alternated(runs, calls, reps=7, warmup=20):
    """{name: median over reps of the mean seconds per call of run(*args)}, the runs taking turns.

    Args:
        runs: {name: function}; calls: a list of argument tuples, cycled through.
    """
    for run in runs.values():
        for args in calls[:warmup]:
            run(*args)
    per_call = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            start = time.perf_counter()
            for args in calls:
                run(*args)
            per_call[name].append((time.perf_counter() - start) / len(calls))
    return {name: statistics.median(times) for name, times in per_call.items()}


def fast_against_torch(params, chunks, h0, loss="sum", reps=7):
    """Seconds per loss-and-gradients call of the fast path and of PyTorch (float64, CPU, one
    thread), on the same chunks and parameters, alternated; None where PyTorch is missing.
    The two are first checked to give the same gradients (1e-10).

    Returns:
        {"fast": seconds, "torch": seconds, "torch_over_fast": ratio, "torch_version"} or None.
    """
    if not gradcheck.torch_available():
        return None
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the project's BLAS runs (lib/__init__.py): one thread per process
    try:
        work = rnn_fast.workspace(max(len(x) for x, _ in chunks), *params["U"].shape)
        grads = {name: np.empty_like(value) for name, value in params.items()}
        torch_run = gradcheck.torch_step(params, loss)
        x, y = chunks[0]
        _, expected, _ = rnn_fast.loss_and_grads(params, x, y, h0, loss=loss)
        _, got = torch_run(x, y, h0)
        for name in rnn.PARAM_NAMES:
            if gradcheck.relative_errors(expected[name], got[name].numpy())[0] > 1e-10:
                raise AssertionError(f"PyTorch's {name} gradient differs from the fast path's: nothing timed")
        times = time_alternated({
            "fast": lambda x, y: rnn_fast.loss_and_grads(params, x, y, h0, grads, work, loss),
            "torch": lambda x, y: torch_run(x, y, h0),
        }, chunks, reps=reps)
    finally:
        torch.set_num_threads(threads)
    return dict(times, torch_over_fast=times["torch"] / times["fast"], torch_version=torch.__version__)


def plain_against_fast(params, chunks, h0, loss="sum", reps=7):
    """Seconds per loss-and-gradients call of lib/rnn.py (the equations as written) and of the fast
    path, on the same chunks and parameters, alternated: how much the speed-ups bought. The two
    are first checked to give the same gradients (1e-10).

    Returns:
        {"plain": seconds, "fast": seconds, "plain_over_fast": ratio}.
    """
    work = rnn_fast.workspace(max(len(x) for x, _ in chunks), *params["U"].shape)
    grads = {name: np.empty_like(value) for name, value in params.items()}
    x, y = chunks[0]
    _, expected, _ = rnn_fast.loss_and_grads(params, x, y, h0, loss=loss)
    _, got, _ = rnn.loss_and_grads(params, x, y, h0, loss=loss)
    for name in rnn.PARAM_NAMES:
        if gradcheck.relative_errors(expected[name], got[name])[0] > 1e-10:
            raise AssertionError(f"lib/rnn.py's {name} gradient differs from the fast path's: nothing timed")
    times = time_alternated({
        "plain": lambda x, y: rnn.loss_and_grads(params, x, y, h0, loss=loss),
        "fast": lambda x, y: rnn_fast.loss_and_grads(params, x, y, h0, grads, work, loss),
    }, chunks, reps=reps)
    return dict(times, plain_over_fast=times["plain"] / times["fast"])
