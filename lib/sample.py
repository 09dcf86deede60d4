"""Text from a trained model on the command line: ``python -m lib.sample MODEL``.

MODEL is a run folder (its ``best.npz``, or ``last.npz`` with ``--which last``) or a
model/checkpoint ``.npz``. The text goes to stdout (or ``--out FILE``) and nothing else
does; the run folder is only read. Sample k of ``--count K`` (k = 0, 1, ...) is drawn
with seed S + k, each from a zero hidden state after the prime, so ``--seed 3`` alone
gives the second sample of ``--seed 2 --count 2``, and ``--seed 0`` gives the passage
``best_model.ipynb`` records with seed 0 at temperature 1.

Bad input ends the command with one line on stderr and exit status 2.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from . import checkpoint, checks, corpus, rnn, rundir, sampling
from .checkpoint import BEST_MODEL, LAST_CHECKPOINT, load_model

EXIT_USAGE = 2
SEPARATOR = "\n\n"   # between the samples of --count K: a blank line
PROG = "charrnn-sample"


class UsageError(Exception):
    """Bad input: the message is the one line the user sees."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (argparse itself prints the usage first)."""

    def error(self, message):
        raise UsageError(message)


def _option(kind, parse):
    """An argparse type: the text parsed by parse, then checked as lib.checks' kind."""
    def convert(text):
        try:
            return checks.check("option", parse(text), kind)
        except (ValueError, checks.ParameterError):
            raise argparse.ArgumentTypeError(f"must be {checks.allowed(kind)}, got {text!r}") from None
    return convert


_length = _option("non_negative_int", int)
_count = _option("positive_int", int)
_seed = _option("non_negative_int", int)
_temperature = _option("positive_number", float)


def build_parser():
    parser = _Parser(
        prog=PROG,
        description="Sample text from a trained char-RNN. Prints the prime followed by exactly "
                    "LENGTH sampled characters to stdout (diagnostics go to stderr) and changes "
                    "nothing in the run folder.")
    parser.add_argument("model", metavar="MODEL",
                        help=f"a run folder (uses its {BEST_MODEL}, see --which) or a model or "
                             f"checkpoint .npz file")
    parser.add_argument("--which", choices=("best", "last"), default=None,
                        help=f"for a run folder: 'best' ({BEST_MODEL}, the lowest smooth loss; the "
                             f"default) or 'last' ({LAST_CHECKPOINT}, the latest parameters)")
    parser.add_argument("--length", "-n", type=_length, default=1000, metavar="N",
                        help="number of characters to sample after the prime (default 1000)")
    parser.add_argument("--temperature", "-t", type=_temperature, default=1.0, metavar="T",
                        help="divides the logits before each draw: below 1 is more conservative, "
                             "above 1 more varied (default 1.0)")
    parser.add_argument("--seed", "-s", type=_seed, default=0, metavar="S",
                        help="random seed; the same seed gives the same text (default 0)")
    prime = parser.add_mutually_exclusive_group()
    prime.add_argument("--prime", default=None, metavar="TEXT",
                       help="text fed through the network first; the output starts with it "
                            "(default: none, the first input is a newline)")
    prime.add_argument("--prime-file", default=None, metavar="FILE",
                       help="like --prime, with the text read from a UTF-8 file")
    parser.add_argument("--argmax", action="store_true",
                        help="always take the most likely character instead of drawing "
                             "(the seed and temperature then do not matter)")
    parser.add_argument("--count", "-k", type=_count, default=1, metavar="K",
                        help="number of independent samples, separated by a blank line; sample k "
                             "uses seed S + k (default 1)")
    parser.add_argument("--out", "-o", default=None, metavar="FILE",
                        help="write the text to FILE (UTF-8) instead of stdout")
    return parser


def resolve_model(model, which=None):
    """The .npz file MODEL names: a run folder's best.npz/last.npz, or the file itself."""
    path = Path(model).expanduser()
    if path.suffix != ".npz":  # a run folder: a retrain killed while swapping it in is finished first
        try:
            settled = rundir.settle(path)
        except rundir.RunFolderError as err:
            raise UsageError(str(err)) from None
        if settled:
            print(f"{PROG}: {settled}", file=sys.stderr)
    if path.is_dir():
        name = LAST_CHECKPOINT if which == "last" else BEST_MODEL
        target = path / name
        if not target.is_file():
            raise UsageError(f"{path} holds no {name}: not a training run folder")
        return target
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if which is not None:
        raise UsageError(f"--which applies to a run folder, but {path} is a file")
    return path


def read_prime(args):
    if args.prime_file is None:
        return args.prime or ""
    path = Path(args.prime_file).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--prime-file {path}: no such file") from None
    except UnicodeDecodeError:
        raise UsageError(f"--prime-file {path}: not UTF-8 text") from None
    except OSError as err:
        raise UsageError(f"--prime-file {path}: {err.strerror}") from None


def check_prime(prime, vocab, source="--prime"):
    """Raise UsageError listing the prime's characters that the model has never seen."""
    unknown = sorted(set(prime) - set(vocab))
    if unknown:
        listed = ", ".join(repr(ch) for ch in unknown)
        raise UsageError(f"{source} has {len(unknown)} character(s) outside the model's vocabulary: {listed}")


def generate(params, vocab, length, seed, temperature=1.0, prime="", argmax=False):
    """Yield the text of one sample in pieces: the prime, then ``length`` sampled characters.

    The pieces joined equal ``prime + sampling.sample_text(params, vocab, length, seed,
    temperature, prime)`` (or the argmax path), with memory independent of length.
    """
    prime_ids = corpus.encode(prime, vocab, what="prime") if prime else None
    first = corpus.encode(sampling.start_char(vocab), vocab)[0]
    h0 = np.zeros(params["W"].shape[0])
    if prime:
        yield prime
    for block in rnn.synthesize_blocks(params, h0, first, length, np.random.default_rng(seed),
                                       temperature, prime_ids, argmax=argmax):
        yield corpus.decode(block, vocab)


def write_samples(stream, params, vocab, args, prime):
    for k in range(args.count):
        if k:
            stream.write(SEPARATOR)
        for piece in generate(params, vocab, args.length, args.seed + k, args.temperature,
                              prime, args.argmax):
            stream.write(piece)
    stream.flush()


def run(argv=None):
    """Parse argv and sample; returns the exit status (raises nothing for bad input)."""
    try:
        args = build_parser().parse_args(argv)
        path = resolve_model(args.model, args.which)
        try:
            params, vocab, meta = load_model(path)
        except checkpoint.CheckpointError as err:
            raise UsageError(f"not a model: {err}") from None
        prime = read_prime(args)
        check_prime(prime, vocab, "--prime-file" if args.prime_file is not None else "--prime")
    except UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    kind = meta.get("kind", "model")
    step = meta.get("step")
    print(f"{PROG}: {path} ({kind}, step {step}, K={len(vocab)}, m={params['W'].shape[0]}); "
          f"{args.count} x {args.length} characters, "
          + ("argmax" if args.argmax else f"temperature {args.temperature}, seed {args.seed}"),
          file=sys.stderr)
    if args.out is not None:
        out = Path(args.out).expanduser()
        try:
            with open(out, "w", encoding="utf-8", newline="") as stream:
                write_samples(stream, params, vocab, args, prime)
        except OSError as err:
            print(f"{PROG}: error: --out {out}: {err.strerror}", file=sys.stderr)
            return EXIT_USAGE
        return 0
    # UTF-8 whatever the locale, and no newline translation: exactly the model's characters.
    stdout = open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False)
    try:
        write_samples(stdout, params, vocab, args, prime)
    except BrokenPipeError:
        # The reader left (e.g. `| head`): not an error. Point stdout at /dev/null so
        # that the final flush at exit does not complain about the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 0


def main():
    sys.exit(run())


if __name__ == "__main__":
    main()
