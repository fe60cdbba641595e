"""The one exception type for bad input a user can fix: its message names the fix."""


class UserError(Exception):
    """Bad input (a flag, a path, a file) that the user can correct.

    The entry points print the message as one line and exit non-zero, without a
    traceback, so the message must say what was wrong and how to fix it.
    """
