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


class OneLineErrors:
    """A mixin for argparse parsers: a bad command line is one line that points at --help,
    and a flag is only ever its whole name (argparse would take `--mas 3` for
    `--mas-lambda 3`, a prefix that a later flag can make mean something else)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}; see --help\n")


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (TensorFlow's `message`, else its text), cut
    to `limit` characters, for a one-line error that quotes its cause; its type if empty."""
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0][:limit] if text else type(error).__name__
