"""Subprocess helper for the SIGKILL test: train from a text file into a folder.

    python tests/_train_worker.py TEXT_PATH OUT_DIR SETTINGS_JSON [PAUSE_SECONDS]

SETTINGS_JSON is a JSON object of keyword arguments for lib.training.train.train (it may
hold "resume": true). PAUSE_SECONDS (default 0) is slept after every checkpoint
written, which stretches the run in wall time without changing any number, so a
test can kill the process in the middle of it.
"""

import json
import sys
import time

from lib.text import corpus
from lib.training import train


def main(argv):
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    text_path, out_dir, settings = argv[1], argv[2], json.loads(argv[3])
    pause = float(argv[4]) if len(argv) == 5 else 0.0

    def on_event(event):
        if event["kind"] == "checkpoint" and pause > 0:
            time.sleep(pause)

    text = corpus.read_text(text_path)
    state = train.train(text, out_dir, data_path=text_path, on_event=on_event, **settings)
    print(f"finished at step {state['step']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
