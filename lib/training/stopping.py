"""Stopping training between two updates: Ctrl-C, or Jupyter's stop button (■), while train()'s loop runs.

An interrupt is a KeyboardInterrupt raised wherever the interpreter happens to be: inside the optimizer's
update of the weights, half-way through drawing a sample, evaluating the held-out text, or writing a
checkpoint. The state there is one that no run ever passes through, and a checkpoint of it would not
continue bitwise. So, while the loop runs, ``between_updates`` takes SIGINT over (Ctrl-C in a terminal;
the stop button, which interrupts a kernel with SIGINT, or on Windows with ``_thread.interrupt_main``,
which calls the same handler) and only notes it: the loop looks at ``requested`` before each update, ends
after the one under way, with the state whole, and train() writes its checkpoint there (a stop is the
moment a checkpoint costs nothing). Leaving the ``with`` block then raises ``Stopped``.

A second interrupt before that is obeyed at once: a stop that hangs (a slow disk) must still be possible.
The state is then not whole, and the last checkpoint written is what a continued run starts from; the
same holds where SIGINT cannot be taken over (training in a thread other than the main one, or SIGINT
already handled otherwise than by raising KeyboardInterrupt). ``Stopped.reached`` says how far training
had gone, so that the caller can say how many updates a continued run does again.
"""

import signal
import threading


class Stopped(KeyboardInterrupt):
    """Training ended by an interrupt after ``reached`` updates (its checkpoint may be older: see the module)."""

    def __init__(self, reached):
        super().__init__(f"training stopped by an interrupt after {reached:,} updates")
        self.reached = reached


class between_updates:  # noqa: N801  (read as a phrase: with between_updates(...) as stop)
    """Context manager: SIGINT sets ``requested`` instead of raising, until the block ends.

    reached: a callable giving the number of updates done, for ``Stopped``.
    """

    def __init__(self, reached):
        self.requested = False
        self._reached = reached
        self._before = None

    def __enter__(self):
        # Only where an interrupt would raise KeyboardInterrupt here: an ignored SIGINT stays ignored,
        # another program's handler stays in charge, and a thread may not set handlers at all.
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._before = signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt  # the second: now, wherever the loop is
        self.requested = True

    def __exit__(self, kind, error, traceback):
        if self._before is not None:
            signal.signal(signal.SIGINT, self._before)
        if isinstance(error, KeyboardInterrupt) and not isinstance(error, Stopped) or \
                error is None and self.requested:
            raise Stopped(self._reached()) from None
        return False
