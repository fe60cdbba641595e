"""The exceptions that end a run with a one-line message: bad input, divergence, a stop signal."""


class UserError(Exception):
    """Bad input (a flag, a path, a file) that the user can correct.

    The entry points print the message as one line and exit non-zero, without a
    traceback, so the message must say what was wrong and how to fix it.
    """


class RunDiverged(UserError):
    """The loss became NaN or infinite; the run stopped and its summary says diverged."""


class RunInterrupted(Exception):
    """A stop signal (SIGTERM, SIGINT) ended the run after a checkpoint: it can be resumed."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.signal_number = signal_number
