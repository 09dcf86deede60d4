"""Text from a trained model on the command line: ``python -m lib.sample MODEL``.

MODEL is a run folder (its ``best.npz``, or ``last.npz`` with ``--which last``) or a
model/checkpoint ``.npz``. The text goes to stdout (or ``--out FILE``) and nothing else
does; the run folder is only read. Sample k of ``--count K`` (k = 0, 1, ...) is drawn
with seed S + k, each from a zero hidden state after the prime, so ``--seed 3`` alone
gives the second sample of ``--seed 2 --count 2``, and ``--seed 0`` gives the passage
``best_model.ipynb`` records with seed 0 at temperature 1.

A record-mode model (lib.records; its file says ``records: true``) gives records: each
starts from the boundary (then the prime) and ends at the boundary or after ``--length``
characters (default: the model's ``max_record_len``), one record per line, a newline
inside a record shown as a visible symbol; ``--count K`` gives K records, drawn in turn
by one generator seeded S, so ``--count 20 --seed 0`` prints the records the train
notebook and the report show.

Bad input ends the command with one line on stderr and exit status 2; a failed write
(a full disk) with one line and exit status 1, and no partial ``--out`` file.

The text goes out as UTF-8, exactly the model's characters, to a pipe, a file or ``--out``;
a console gets it in its own encoding instead (on Windows, through the console's Unicode
output; a console that cannot show a character shows ``?``), where raw UTF-8 would be garbled.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from lib import checks, network
from lib.atomic import WriteError, atomic_write
from lib.records import record_sampling
from lib.sample import sampling
from lib.text import corpus
from lib.training import checkpoint, run_folder
from lib.training.checkpoint import BEST_MODEL, LAST_CHECKPOINT, load_model

EXIT_USAGE = 2
EXIT_WRITE = 1
SEPARATOR = "\n\n"   # between the samples of --count K: a blank line
DEFAULT_LENGTH = 1000
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
_temperature = _option("temperature", float)
_top_p = _option("top_p", float)


def build_parser():
    parser = _Parser(
        prog=PROG,
        description="Sample text from a trained char-RNN. Prints the prime followed by exactly "
                    "LENGTH sampled characters to stdout (diagnostics go to stderr) and changes "
                    "nothing in the run folder. A record-mode model (trained with records=True) "
                    "prints whole records instead, one per line.")
    parser.add_argument("model", metavar="MODEL",
                        help=f"a run folder (uses its {BEST_MODEL}, see --which) or a model or "
                             f"checkpoint .npz file")
    parser.add_argument("--which", choices=("best", "last"), default=None,
                        help=f"for a run folder: 'best' ({BEST_MODEL}, the lowest smooth loss; the "
                             f"default) or 'last' ({LAST_CHECKPOINT}, the latest parameters)")
    parser.add_argument("--length", "-n", type=_length, default=None, metavar="N",
                        help=f"number of characters to sample after the prime (default {DEFAULT_LENGTH}); "
                             f"for a record model, the most characters a record may have, the prime "
                             f"included (default: the model's max_record_len)")
    parser.add_argument("--temperature", "-t", type=_temperature, default=1.0, metavar="T",
                        help=f"divides the logits before each draw: below 1 is more conservative, "
                             f"above 1 more varied (default 1.0, at least {checks.MIN_TEMPERATURE:g}; "
                             f"--argmax is the limit of small T)")
    parser.add_argument("--top-p", type=_top_p, default=1.0, metavar="THETA",
                        help="nucleus sampling, after the temperature: draw only from the fewest likeliest "
                             "characters whose probabilities sum to at least THETA, renormalised (default 1.0, "
                             "plain sampling; a THETA at most the likeliest character's probability takes it)")
    parser.add_argument("--seed", "-s", type=_seed, default=0, metavar="S",
                        help="random seed; the same seed gives the same text (default 0)")
    prime = parser.add_mutually_exclusive_group()
    prime.add_argument("--prime", default=None, metavar="TEXT",
                       help=f"text fed through the network first; the output starts with it "
                            f"(default: none, the first input is a newline; a record model starts "
                            f"every record with it; at most {sampling.MAX_PRIME_CHARS:,} characters)")
    prime.add_argument("--prime-file", default=None, metavar="FILE",
                       help="like --prime, with the text read from a UTF-8 file (a regular file)")
    parser.add_argument("--argmax", action="store_true",
                        help="always take the most likely character instead of drawing "
                             "(the seed and temperature then do not matter)")
    parser.add_argument("--count", "-k", type=_count, default=1, metavar="K",
                        help="number of independent samples, separated by a blank line; sample k "
                             "uses seed S + k (default 1); for a record model, K records, one per "
                             "line, drawn in turn from seed S")
    parser.add_argument("--out", "-o", default=None, metavar="FILE",
                        help="write the text to FILE (UTF-8) instead of stdout; FILE appears only "
                             "once it is complete")
    return parser


def _run_state(folder):
    """(state, status) of a run folder by its status.json (lib.training.run_folder); (None, None) without one."""
    if not (folder / run_folder.STATUS).is_file():
        return None, None
    try:
        return run_folder.folder_state(folder)
    except run_folder.RunFolderError:
        return None, None


def _progress(status):
    def count(key):
        value = status.get(key)
        return f"{value:,}" if isinstance(value, int) else "?"
    return f"at step {count('step')} of {count('planned_steps')}"


def resolve_model(model, which=None):
    """(the .npz file MODEL names, a note for stderr or None): a run folder's best.npz/last.npz, or the file.

    The note says when the file belongs to a run that is still training or was interrupted.
    """
    path = Path(model).expanduser()
    if path.suffix != ".npz":  # a run folder: a retrain killed while swapping it in is finished first
        try:
            settled = run_folder.settle(path)
        except run_folder.RunFolderError as err:
            raise UsageError(str(err)) from None
        if settled:
            print(f"{PROG}: {settled}", file=sys.stderr)
    if path.is_dir():
        name = LAST_CHECKPOINT if which == "last" else BEST_MODEL
        target = path / name
        folder = path
        if not target.is_file():
            state, status = _run_state(path)
            if state == "running":
                raise UsageError(f"{path} is a run folder still training ({_progress(status)}) with no {name} "
                                 f"yet: it is written at the run's first checkpoint (checkpoint_every)")
            if state == "interrupted":
                raise UsageError(f"{path} is a run folder interrupted ({_progress(status)}) before its first "
                                 f"checkpoint, so it has no {name}: run notebooks/train.ipynb again with the "
                                 f"same settings")
            if state == "finished":
                raise UsageError(f"{path} is a finished run whose {name} is missing")
            raise UsageError(f"{path} holds no {name}: not a training run folder")
    elif not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    elif which is not None:
        raise UsageError(f"--which applies to a run folder, but {path} is a file")
    else:
        target, folder = path, path.parent
    state, status = _run_state(folder)
    note = None
    if state == "running":
        note = f"{folder} is still training ({_progress(status)}): this is its {target.name} so far"
    elif state == "interrupted":
        note = (f"{folder} is an unfinished run, interrupted {_progress(status)}: this is its {target.name} "
                f"from then")
    return target, note


def read_prime(args, vocab):
    """The prime the options give, checked against the model (UsageError naming the option)."""
    try:
        if args.prime_file is None:
            prime = args.prime or ""
            sampling.check_prime(prime, vocab, "--prime")
            return prime
        return sampling.read_prime(Path(args.prime_file).expanduser(), vocab)
    except corpus.CorpusError as err:
        raise UsageError(str(err) if args.prime_file is None else f"--prime-file: {err}") from None


def generate(params, vocab, length, seed, temperature=1.0, prime="", argmax=False, top_p=1.0):
    """Yield the text of one sample in pieces: the prime, then ``length`` sampled characters.

    The pieces joined equal ``prime + sampling.sample_text(params, vocab, length, seed,
    temperature, prime, top_p=top_p)`` (or the argmax path), with memory independent of length.
    """
    prime_ids = corpus.encode(prime, vocab, what="prime") if prime else None
    first = corpus.encode(sampling.start_char(vocab), vocab)[0]
    if prime:
        yield prime
    for block in network.synthesize_blocks(params, network.init_state(params), first, length,
                                           np.random.default_rng(seed), temperature, prime_ids, argmax, top_p):
        yield corpus.decode(block, vocab)


def _stream_pieces(params, vocab, args, prime):
    for k in range(args.count):
        if k:
            yield SEPARATOR
        yield from generate(params, vocab, args.length, args.seed + k, args.temperature, prime, args.argmax,
                            args.top_p)


def text_pieces(params, vocab, meta, args, prime):
    """The output as an iterator of strings, everything checked before it is returned (UsageError)."""
    if not record_sampling.is_record_model(meta):
        return _stream_pieces(params, vocab, args, prime)
    if args.length == 0:
        raise UsageError("--length must be a positive integer for a record model (the most characters a "
                         "record may have), got 0")
    try:
        lines = record_sampling.record_lines(params, vocab, meta, args.count, args.seed, args.temperature, prime,
                                      args.length, args.argmax, args.top_p)
    except corpus.CorpusError as err:
        option = "--prime-file" if args.prime_file is not None else "--prime"
        raise UsageError(f"{option}: {err} (--length {args.length})" if args.length is not None else
                         f"{option}: {err} (the model's max_record_len)") from None
    return (line + "\n" for line in lines)


def write_pieces(stream, pieces):
    for piece in pieces:
        stream.write(piece)
    stream.flush()


def _check_out(out, sources):
    """UsageError unless --out names a file that may be replaced (not a device, a folder or an input)."""
    if not out.exists():
        return
    if not out.is_file():
        raise UsageError(f"--out {out}: not a regular file (a folder, device or pipe): name a file")
    for source in sources:
        if source is not None and source.exists() and os.path.samefile(out, source):
            raise UsageError(f"--out {out} is the file being read ({source}): name another file")


def _text_stdout():
    """Where the text goes when there is no --out (see the module's docstring)."""
    console = getattr(sys.stdout, "isatty", None)
    if console is not None and console() and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
        return sys.stdout
    # UTF-8 whatever the locale, and no newline translation: exactly the model's characters.
    return open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False)


def _detach_stdout():
    """Point stdout at the null device, so that no later flush meets the pipe or disk that failed."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _error(message, status):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def run(argv=None):
    """Parse argv and sample; returns the exit status (raises nothing for bad input or a failed write)."""
    try:
        args = build_parser().parse_args(argv)
        path, note = resolve_model(args.model, args.which)
        try:
            params, vocab, meta = load_model(path)
        except checkpoint.CheckpointError as err:
            raise UsageError(str(err)) from None
        prime = read_prime(args, vocab)
        out = None if args.out is None else Path(args.out).expanduser()
        if out is not None:
            _check_out(out, [path, None if args.prime_file is None else Path(args.prime_file).expanduser()])
        record_model = record_sampling.is_record_model(meta)
        if args.length is None:
            args.length = meta["max_record_len"] if record_model else DEFAULT_LENGTH
        pieces = text_pieces(params, vocab, meta, args, prime)
    except UsageError as err:
        return _error(err, EXIT_USAGE)
    kind = meta.get("kind", "model")
    what = (f"{args.count} record(s) of at most {args.length} characters" if record_model
            else f"{args.count} x {args.length} characters")
    print(f"{PROG}: {path} ({'record ' if record_model else ''}{kind}, step {meta.get('step')}, K={len(vocab)}, "
          f"{network.label(params)}); {what}, "
          + ("argmax" if args.argmax else f"temperature {args.temperature}"
             + (f", top-p {args.top_p}" if args.top_p != 1 else "") + f", seed {args.seed}"),
          file=sys.stderr)
    if note is not None:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    try:
        if out is not None:
            atomic_write(out, lambda f: write_pieces(f, pieces), binary=False)
            return 0
        stdout = _text_stdout()
        try:
            write_pieces(stdout, pieces)
        except BrokenPipeError:
            # The reader left (e.g. `| head`): not an error.
            _detach_stdout()
        except OSError as err:
            _detach_stdout()
            return _error(f"could not write to stdout: {err.strerror or err}", EXIT_WRITE)
    except WriteError as err:
        return _error(f"--out: {err}", EXIT_WRITE)
    except KeyboardInterrupt:
        return _error("interrupted" + ("" if out is None else f" ({out} was not written)"), 130)
    return 0


def main():
    sys.exit(run())


if __name__ == "__main__":
    main()
