"""Speed benchmark: `python bench.py [--before REV]` (or `make bench [BEFORE=REV]`).

Times, in one process on one BLAS thread, the training path's (lib.rnn_fast) loss_and_grads
and full update step (loss_and_grads + clip + AdaGrad) against lib.rnn as the course writes
it ("plain") and a naive reference written below in the classic per-timestep style, checks
first that lib and the naive reference compute the same numbers, and
prints medians and ratios, the train() loop's cost per update, and peak memory; then the
update step of each handout's protocol (2026's Adam and mean loss against 2021's AdaGrad),
with --before the 2021 step against lib/rnn_fast.py as it was at git revision REV, and the
loss and gradients of the fast path against PyTorch's (when installed); the characters per
second of one update with batch_size B = 1, 8 and 32 (issue 24's mini-batches); then the
sampling speed of lib's block-wise synthesis against a one-character-at-a-time reference
(the same draws), and the peak memory of `python -m lib.sample --length 1000000`.
Every figure that compares is a ratio of runs alternated in this process (lib/speed.py).
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402

from lib import rnn, rnn_fast, speed  # noqa: E402
from lib.training import parts, train  # noqa: E402
from lib.training import settings as table  # noqa: E402

M, K, SEQ = 100, 80, 25
ETA = 0.1
REPS, ITERS = 7, 300
BOOK_CHARS = 1_107_542
EPOCHS = 10


# ----------------------------------------------------------- naive reference
# The per-timestep formulation with one-hot column vectors, outer products per
# step and a loop over the five parameters for clipping and AdaGrad.

def naive_loss_and_grads(P, inputs, targets, hprev):
    b, c, U, W, V = P["b"], P["c"], P["U"], P["W"], P["V"]
    xs, hs, ps = {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((K, 1))
        xs[t][inputs[t]] = 1.0
        hs[t] = np.tanh(np.dot(W, hs[t - 1]) + np.dot(U, xs[t]) + b)
        o = np.dot(V, hs[t]) + c
        e = np.exp(o - np.max(o))
        ps[t] = e / np.sum(e)
        loss += -np.log(ps[t][targets[t], 0])
    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db, dc = np.zeros_like(b), np.zeros_like(c)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        do = np.copy(ps[t])
        do[targets[t]] -= 1.0
        dV += np.dot(do, hs[t].T)
        dc += do
        dh = np.dot(V.T, do) + dhnext
        da = (1.0 - hs[t] * hs[t]) * dh
        db += da
        dU += np.dot(da, xs[t].T)
        dW += np.dot(da, hs[t - 1].T)
        dhnext = np.dot(W.T, da)
    grads = {"b": db, "c": dc, "U": dU, "W": dW, "V": dV}
    return loss, grads, hs[len(inputs) - 1]


def naive_step(P, mem, inputs, targets, hprev):
    loss, grads, h = naive_loss_and_grads(P, inputs, targets, hprev)
    for name in ("b", "c", "U", "W", "V"):
        np.clip(grads[name], -5.0, 5.0, out=grads[name])
    for name in ("b", "c", "U", "W", "V"):
        mem[name] += grads[name] * grads[name]
        P[name] += -ETA * grads[name] / np.sqrt(mem[name] + 1e-8)
    return loss, h


def to_columns(params):
    P = {k: v.copy() for k, v in params.items()}
    P["b"] = P["b"].reshape(-1, 1)
    P["c"] = P["c"].reshape(-1, 1)
    return P


def naive_synthesize(params, x, n, rng, temperature=1.0):
    """One character at a time: a fresh uniform, fresh arrays and a cumulative sum per draw."""
    b, c, U, W, V = (params[k] for k in rnn.PARAM_NAMES)
    h = np.zeros(W.shape[0])
    out = np.empty(n, dtype=np.int64)
    for t in range(n):
        h = np.tanh(W @ h + U[:, x] + b)
        o = (V @ h + c) / temperature
        x = rnn.softmax_sample(np.exp(o - o.max()), rng.random())
        out[t] = x
    return out


# ------------------------------------------------------------------ the lib

def lib_model(params, protocol="2021"):
    """The training path as train() runs it: (lib.rnn_fast.FlatModel, its optimizer), for a protocol."""
    settings = dict(table.resolve(protocol, seq_length=SEQ)[0], fast=True)
    if protocol == "2021":
        settings["eta"] = ETA
    model = parts.make_model(params, params, settings)
    return model, parts.make_optimizer(model, settings)


def plain_step(params, memory, x, y, h):
    """lib.rnn as the course writes it: loss_and_grads, then AdaGrad on each parameter."""
    loss, grads, h = rnn.loss_and_grads(params, x, y, h)
    rnn.adagrad_step(params, grads, memory, ETA)
    return loss, h


# -------------------------------------------------------------------- checks

def verify(params, data):
    x, y = data[:SEQ], data[1:SEQ + 1]
    h0 = np.tanh(np.random.default_rng(5).standard_normal(M))
    lib, optimizer = lib_model(params)
    loss_l, (h_l,) = lib.loss_and_grads(x, y, (h0,))
    grads_l = {k: v.copy() for k, v in lib.grads.items()}
    P = to_columns(params)
    loss_n, grads_n, h_n = naive_loss_and_grads(P, x, y, h0.reshape(-1, 1))
    assert np.allclose(loss_l, loss_n, rtol=1e-12, atol=0), (loss_l, loss_n)
    assert np.allclose(h_l, h_n.ravel(), rtol=1e-12, atol=1e-15)
    worst = 0.0
    for name in rnn.PARAM_NAMES:
        a, b = grads_l[name], grads_n[name].reshape(grads_l[name].shape)
        assert np.allclose(a, b, rtol=1e-10, atol=1e-13), name
        worst = max(worst, float(np.max(np.abs(a - b))))
    # And one full update (clip + AdaGrad) lands on the same parameters.
    lib.loss_and_grads(x, y, (h0,))
    optimizer.step()
    mem = {k: np.zeros_like(v) for k, v in P.items()}
    naive_step(P, mem, x, y, h0.reshape(-1, 1))
    for name in rnn.PARAM_NAMES:
        assert np.allclose(lib.params[name], P[name].reshape(lib.params[name].shape),
                           rtol=1e-12, atol=1e-15), name
    return abs(loss_l - loss_n), worst


# -------------------------------------------------------------------- timing

def time_loops(runs, data):
    """{name: median over REPS of the mean time per call of run(x, y) over ITERS chunks, in us},
    the runs taking turns (lib/speed.py), so that a change in the machine's load falls on all alike."""
    chunks = [(data[i * SEQ:(i + 1) * SEQ], data[i * SEQ + 1:(i + 1) * SEQ + 1]) for i in range(ITERS)]
    return {name: 1e6 * t for name, t in speed.time_alternated(runs, chunks, reps=REPS).items()}


def protocol_steps(params, data, before=None):
    """The update step of each protocol, alternated; with before, the 2021 step of lib/rnn_fast.py
    as it was at that git revision too (old_2021_step)."""
    steps, h = {}, {}
    # The course's handouts (the gated recipe is another network: bench_cells)
    handouts = [name for name, values in table.PROTOCOLS.items() if values["cell"] == "rnn"]
    for protocol in handouts:
        model, optimizer = lib_model(params, protocol)
        h[protocol] = (np.zeros(M),)

        def step(x, y, model=model, optimizer=optimizer, protocol=protocol):
            _, h[protocol] = model.loss_and_grads(x, y, h[protocol])
            optimizer.step()
        steps[protocol] = step
    if before is not None:
        steps[f"2021 at {before}"] = old_2021_step(old_rnn_fast(before), params)
    return time_loops(steps, data)


def old_2021_step(old, params):
    """The 2021 update step (loss_and_grads, clip, AdaGrad) of an earlier lib/rnn_fast.py, loaded as ``old``:
    revisions whose FlatModel held AdaGrad (``adagrad_update``), and later ones whose optimizer ran
    ``adagrad_step`` on the model's flat buffers (lib/training/parts.py's AdaGrad of that time)."""
    h = {"h": np.zeros(M)}
    if hasattr(old.FlatModel, "adagrad_update"):
        model = old.FlatModel(params, {k: np.zeros_like(v) for k, v in params.items()}, params, SEQ)
        update = lambda: model.adagrad_update(ETA)   # noqa: E731
    else:
        model = old.FlatModel(params, params, SEQ)
        theta, grad, memory = model.flat(model.params), model.flat(model.grads), model.flat(model.zeros())
        scratch = np.empty_like(theta)
        update = lambda: old.adagrad_step(theta, grad, memory, ETA, scratch)   # noqa: E731 (its clip, its eps)

    def step(x, y):
        _, h["h"] = model.loss_and_grads(x, y, h["h"])
        update()
    return step


def old_rnn_fast(revision):
    """lib/rnn_fast.py as it was at a git revision, loaded as a module of its own."""
    source = subprocess.run(["git", "show", f"{revision}:lib/rnn_fast.py"], capture_output=True, text=True,
                            check=True, encoding="utf-8").stdout
    module = types.ModuleType(f"rnn_fast_at_{revision}")
    exec(compile(source, f"{revision}:lib/rnn_fast.py", "exec"), module.__dict__)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description="Speed benchmark, as ratios of runs alternated in one process.")
    parser.add_argument("--before", metavar="REV", help="also time the 2021 step of lib/rnn_fast.py at this git revision")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    data = rng.integers(0, K, size=REPS * ITERS * SEQ + 1)
    params = rnn.init_params(K, M, 0.01, np.random.default_rng(1))

    loss_diff, grad_diff = verify(params, data)
    print(f"numpy {np.__version__}, float64, m={M} K={K} seq_length={SEQ}, BLAS threads=1, "
          f"median of {REPS} reps x {ITERS} iterations")
    print(f"naive reference agrees with lib: |loss diff| {loss_diff:.1e}, max |grad diff| {grad_diff:.1e}")

    lib, _ = lib_model(params)
    h0, P = np.zeros(M), to_columns(params)
    h0_col = np.zeros((M, 1))
    lg = time_loops({"lib": lambda x, y: lib.loss_and_grads(x, y, (h0,)),
                     "plain": lambda x, y: rnn.loss_and_grads(params, x, y, h0),
                     "naive": lambda x, y: naive_loss_and_grads(P, x, y, h0_col)}, data)

    (lib, optimizer), P = lib_model(params), to_columns(params)
    plain = {k: v.copy() for k, v in params.items()}
    mem = {k: np.zeros_like(v) for k, v in P.items()}
    plain_mem = {k: np.zeros_like(v) for k, v in params.items()}
    h = {"lib": (np.zeros(M),), "plain": np.zeros(M), "naive": np.zeros((M, 1))}

    def lib_step(x, y):
        _, h["lib"] = lib.loss_and_grads(x, y, h["lib"])
        optimizer.step()

    def plain_full(x, y):
        _, h["plain"] = plain_step(plain, plain_mem, x, y, h["plain"])

    def naive_full(x, y):
        _, h["naive"] = naive_step(P, mem, x, y, h["naive"])
    full = time_loops({"lib": lib_step, "plain": plain_full, "naive": naive_full}, data)
    lib_full = full["lib"]

    # lib: the training path (lib.rnn_fast); plain: lib.rnn as the course writes it.
    print(f"{'':26s}{'lib us':>10s}{'plain us':>11s}{'naive us':>11s}{'plain/lib':>11s}{'naive/lib':>11s}")
    for label, row in (("loss_and_grads", lg), ("full update step", full)):
        print(f"{label:26s}{row['lib']:10.1f}{row['plain']:11.1f}{row['naive']:11.1f}"
              f"{row['plain'] / row['lib']:10.2f}x{row['naive'] / row['lib']:10.2f}x")
    naive_full_us = full["naive"]

    updates = EPOCHS * train.steps_per_epoch(BOOK_CHARS, SEQ)
    print(f"{EPOCHS} epochs of a {BOOK_CHARS:,}-character book ({updates:,} updates): "
          f"lib {updates * lib_full / 6e7:.1f} min, naive {updates * naive_full_us / 6e7:.1f} min")

    alphabet = [chr(c) for c in range(33, 33 + K)]
    text = "".join(np.random.default_rng(2).choice(alphabet, size=200_000))
    state = train.train(text, m=M, seq_length=SEQ, eta=ETA, seed=0, epochs=1, max_steps=5000)
    us = state["timing"]["us_per_step"]
    print(f"train() loop: {us:.1f} us/step over {state['timing']['steps_this_session']} steps "
          f"(200k synthetic chars, K={len(set(text))}); bare update step {lib_full:.1f} us, "
          f"loop overhead {us - lib_full:+.1f} us ({100 * (us / lib_full - 1):+.0f}%)")
    print(f"peak memory training on a 5,000,000-character text (5% held out): {peak_memory_mb():.0f} MB")

    steps = protocol_steps(params, data, args.before)
    print("update step of each protocol (loss_and_grads + optimizer, fast path): " + ", ".join(
        f"{name} {us:.1f} us" for name, us in steps.items()))
    print(f"  2026 (Adam, mean loss) / 2021 (AdaGrad, summed loss, clip 5): {steps['2026'] / steps['2021']:.3f}x")
    if args.before:
        print(f"  2021 now / 2021 at {args.before}: {steps['2021'] / steps[f'2021 at {args.before}']:.3f}x")

    chunks = [(data[i * SEQ:(i + 1) * SEQ], data[i * SEQ + 1:(i + 1) * SEQ + 1]) for i in range(ITERS)]
    for loss in ("sum", "mean"):
        against = speed.fast_against_torch(params, chunks, np.zeros(M), loss, reps=REPS)
        if against is None:
            print("PyTorch is not installed: no comparison with it (pip install 'char-rnn-notebooks[torch]')")
            break
        print(f"loss and gradients, loss {loss}, against PyTorch {against['torch_version']} (float64, CPU, one "
              f"thread, same sequences): fast path {1e6 * against['fast']:.1f} us, PyTorch "
              f"{1e6 * against['torch']:.1f} us, PyTorch/fast path {against['torch_over_fast']:.2f}x")

    batch_speed(params, data)
    sampling_speed(params)
    bench_cells()


BATCHES = (1, 8, 32)
BATCH_CALLS = 40


def batch_speed(params, data):
    """Characters per second of one 2021 update (inputs sliced from the text, loss and gradients, clip,
    AdaGrad) at each batch size of BATCHES, alternated (lib/speed.py): B sequences of SEQ characters
    an update; B = 1 is the course's update, unchanged. Beside them the largest batch in float32."""
    runs, rng = {}, np.random.default_rng(4)
    B32 = (BATCHES[-1], "float32")
    for B in BATCHES + (B32,):
        size, dtype = B if isinstance(B, tuple) else (B, "float64")
        settings = dict(table.resolve("2021", seq_length=SEQ, batch_size=size, dtype=dtype)[0], fast=True, eta=ETA)
        start = params if dtype == "float64" else {k: v.astype(dtype) for k, v in params.items()}
        model = parts.make_model(start, start, settings)
        optimizer = parts.make_optimizer(model, settings)
        shape = () if size == 1 else (size,)
        starts = [rng.integers(0, len(data) - SEQ - 1, size=shape) for _ in range(BATCH_CALLS)]
        state = {"h": (np.zeros(shape + (M,), dtype=dtype),)}

        def update(i, model=model, optimizer=optimizer, starts=starts, state=state):
            x, y = parts.sequences(data, starts[i], SEQ)
            _, state["h"] = model.loss_and_grads(x, y, state["h"])
            optimizer.step()
        runs[B] = update
    seconds = speed.time_alternated(runs, [(i,) for i in range(BATCH_CALLS)], reps=REPS, warmup=5)
    rates = {B: (B[0] if isinstance(B, tuple) else B) * SEQ / seconds[B] for B in runs}
    print("one update with a batch of B sequences (fast path, 2021, one BLAS thread): " + ", ".join(
        f"B={B} {1e6 * seconds[B]:.0f} us, {rates[B]:,.0f} chars/s" for B in BATCHES)
        + f"; B={B32[0]} in float32 {1e6 * seconds[B32]:.0f} us, {rates[B32]:,.0f} chars/s")
    print(f"  characters per second, B={BATCHES[-1]} / B=1: {rates[BATCHES[-1]] / rates[1]:.2f}x; "
          f"B={BATCHES[1]} / B=1: {rates[BATCHES[1]] / rates[1]:.2f}x; "
          f"B={B32[0]} float32 / B=1 float64 (the course's step): {rates[B32] / rates[1]:.2f}x")


SAMPLE_CHARS = 50_000
SAMPLE_REPS = 5


def sampling_speed(params):
    """Characters per second of rnn_fast.synthesize_blocks against naive_synthesize, after a warm-up."""
    lib_draw = lambda n: np.concatenate(list(  # noqa: E731
        rnn_fast.synthesize_blocks(params, np.zeros(M), 0, n, np.random.default_rng(0))))
    naive_draw = lambda n: naive_synthesize(params, 0, n, np.random.default_rng(0))  # noqa: E731
    assert np.array_equal(lib_draw(2000), naive_draw(2000)), "block-wise synthesis differs from the reference"
    # Alternate the two, so that a change in the machine's load falls on both alike.
    times = {"lib": [], "naive": []}
    for _ in range(SAMPLE_REPS):
        for name, draw in (("lib", lib_draw), ("naive", naive_draw)):
            start = time.perf_counter()
            draw(SAMPLE_CHARS)
            times[name].append(time.perf_counter() - start)
    rates = {name: SAMPLE_CHARS / statistics.median(t) for name, t in times.items()}
    print(f"sampling, m={M} K={K}: lib {rates['lib']:,.0f} chars/s, one-at-a-time reference "
          f"{rates['naive']:,.0f} chars/s, lib/reference {rates['lib'] / rates['naive']:.2f}x "
          f"(median of {SAMPLE_REPS} x {SAMPLE_CHARS:,} characters, same draws)")
    small, large = sample_memory_mb(10_000), sample_memory_mb(1_000_000)
    print(f"peak memory of python -m lib.sample: {small:.0f} MB at --length 10000, "
          f"{large:.0f} MB at --length 1000000")


# Prepended to each probe: its process's peak resident memory in MB. getrusage's ru_maxrss is in
# KiB on Linux and in bytes on macOS; Windows has no resource module, and psutil reads the peak
# working set there.
PEAK_MEMORY = """
import sys
def peak_mb():
    try:
        import resource
    except ImportError:
        import psutil
        return psutil.Process().memory_info().peak_wset / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
"""

MEMORY_PROBE = PEAK_MEMORY + """
import numpy as np
from lib.training import train
# Built from bytes: a str of 5M numpy scalars would itself cost more memory than training.
text = np.random.default_rng(3).integers(33, 33 + 80, size=5_000_000, dtype=np.uint8).tobytes().decode("ascii")
train.train(text, m=100, epochs=1, max_steps=2000, val_fraction=0.05, eval_every=1000)
print(peak_mb())
"""


def peak_memory_mb():
    """Peak resident memory of a fresh process training on a 5M-character text (with a held-out tail)."""
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


SAMPLE_MEMORY_PROBE = """
import os, tempfile
from pathlib import Path
import numpy as np
from lib import rnn
from lib.sample import command
from lib.training import checkpoint
vocab = [chr(c) for c in range(33, 33 + {K})]
params = rnn.init_params(len(vocab), {M}, 0.3, np.random.default_rng(1))
with tempfile.TemporaryDirectory() as folder:
    checkpoint.save_model(Path(folder) / "best.npz", params, vocab, {{"step": 0}})
    sys.stdout = open(os.devnull, "w", encoding="utf-8")
    status = command.run([folder, "--length", "{n}", "--out", os.devnull])
sys.stderr.write(str(peak_mb()))
"""


def sample_memory_mb(n):
    """Peak resident memory of a fresh process sampling n characters of a random m=M model to the null device."""
    code = PEAK_MEMORY + SAMPLE_MEMORY_PROBE.format(K=K, M=M, n=n)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stderr.split()[-1])


# ------------------------------------------------------------- LSTM and GRU against PyTorch

CELL_M, CELL_B, CELL_N, CELL_K = 256, 32, 50, 80
CELL_ETA = 2e-3
CELL_CALLS = 10


def bench_cells():
    """Our LSTM and GRU training step, as train() takes it (parts.GatedModel's loss_and_grads, then
    parts.Adam's flat update), against PyTorch's nn.LSTM / nn.GRU + Linear + torch.optim.Adam, float32,
    one thread, m=CELL_M, B=CELL_B, n=CELL_N, K=CELL_K, no clipping and no dropout in either, alternated in
    this process, from the same parameters; the two are first checked to give the same loss on the first batch."""
    from threadpoolctl import threadpool_limits

    from lib import gradcheck, gru, lstm, torch_cells

    if not gradcheck.torch_available():
        print("PyTorch is not installed: no LSTM / GRU comparison with it (pip install 'char-rnn-notebooks[torch]')")
        return
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(6)
    batches = [(X[:, :-1], X[:, 1:]) for X in (rng.integers(0, CELL_K, size=(CELL_B, CELL_N + 1))
                                                for _ in range(CELL_CALLS))]
    with threadpool_limits(limits=1, user_api="blas"):
        runs = {}
        for module in (lstm, gru):
            params = module.init_params(CELL_K, CELL_M, np.random.default_rng(7), dtype=np.float32)
            torch_run = torch_cells.torch_training_step(module.CELL, params, CELL_ETA, loss="mean")
            X, Y = batches[0]
            ours_first = module.loss(params, X, Y, module.init_state(params, CELL_B), loss="mean")[0]
            torch_first, _ = torch_cells.torch_training_step(module.CELL, params, CELL_ETA, loss="mean")(X, Y)
            if abs(ours_first - torch_first) > 1e-5 * abs(torch_first):
                raise AssertionError(f"{module.CELL}: our loss {ours_first} is not PyTorch's {torch_first}: "
                                     "nothing timed")
            model = parts.GatedModel(params, params, loss="mean")
            optimizer = parts.Adam(model, CELL_ETA, clip=None, eps=1e-8, beta1=0.9, beta2=0.999)
            ours = {"state": module.init_state(params, CELL_B)}
            theirs = {"state": None}

            def our_step(X, Y, model=model, optimizer=optimizer, ours=ours):
                _, ours["state"] = model.loss_and_grads(X, Y, ours["state"])
                optimizer.step()

            def torch_step(X, Y, torch_run=torch_run, theirs=theirs):
                _, theirs["state"] = torch_run(X, Y, theirs["state"])
            runs[module.CELL] = our_step
            runs[f"torch {module.CELL}"] = torch_step
        seconds = speed.time_alternated(runs, batches, reps=REPS, warmup=3)
    print(f"LSTM and GRU training step (loss, gradients, Adam), float32, one thread, m={CELL_M} B={CELL_B} "
          f"n={CELL_N} K={CELL_K}, against PyTorch {torch.__version__}:")
    for cell in ("lstm", "gru"):
        ours_ms, torch_ms = 1e3 * seconds[cell], 1e3 * seconds[f"torch {cell}"]
        print(f"  {cell}: ours {ours_ms:.1f} ms, PyTorch {torch_ms:.1f} ms, ours/PyTorch {ours_ms / torch_ms:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
