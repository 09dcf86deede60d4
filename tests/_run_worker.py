"""Subprocess helper for the lifecycle tests: one training run as the notebook makes it.

    python tests/_run_worker.py PARAMETERS_JSON [PAUSE_SECONDS] [TMP_PAUSE_SECONDS] [SWAP_STALL_AT]

PARAMETERS_JSON holds the train notebook's parameters. PAUSE_SECONDS is slept
after every checkpoint written (stretching the run in wall time without
changing a number), so a test can kill it between checkpoints;
TMP_PAUSE_SECONDS is slept while a checkpoint's temporary file is half written,
(the file exists, empty) so a test can kill it there. SWAP_STALL_AT = k stalls a retrain's swap
before its rename number k (0 is the first), after printing "swapping", so a test can kill it
there. Prints the action taken, or the one-line error (exit 3).
"""

import json
import sys
import time

from lib import atomic
from lib.training import checkpoint, run_folder, runner


def main(argv):
    parameters = json.loads(argv[1])
    pause = float(argv[2]) if len(argv) > 2 else 0.0
    tmp_pause = float(argv[3]) if len(argv) > 3 else 0.0
    if pause:
        save_state = checkpoint.save_state

        def slow_save_state(path, state):
            save_state(path, state)
            time.sleep(pause)

        checkpoint.save_state = slow_save_state
    if tmp_pause:
        atomic_write = atomic.atomic_write

        def stalled_write(path, write, binary=True):
            def wait_then_write(f):
                print("writing", flush=True)
                time.sleep(tmp_pause)
                write(f)
            return atomic_write(path, wait_then_write, binary)

        checkpoint.atomic_write = stalled_write
    if len(argv) > 4:
        stall_at, renames, rename = int(argv[4]), [], run_folder._rename

        def stalled_rename(source, target):
            if len(renames) == stall_at:
                print("swapping", flush=True)
                time.sleep(600)
            renames.append(source)
            rename(source, target)

        run_folder._rename = stalled_rename
    try:
        result = runner.execute(runner.plan(**parameters), progress=None)
    except (run_folder.RunFolderError, ValueError) as err:
        print(f"refused: {err}", flush=True)
        return 3
    print(f"{result['action']} {result['summary']['steps']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
