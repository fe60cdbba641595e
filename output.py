"""Files a command writes for the user (a report, a metrics table): checked before the work
that fills them, and written whole or not at all."""

import os

from errors import UserError
from rundir import write_text_atomic


def check_writable(path: str, flag: str) -> None:
    """An error now, before the work, if `path` (given by the option `flag`) cannot be
    written: it is a folder, its folder is missing or read-only. Tried by making the
    temporary file that write_text writes through, and removing it."""
    if os.path.isdir(path):
        raise UserError(f"{flag} {path} is a folder; name a file (nothing was written)")
    try:
        open(_temporary(path), "w").close()
        os.remove(_temporary(path))
    except OSError as e:
        raise UserError(f"cannot write {flag} {path} ({e.strerror or e}); choose a writable "
                        "path (nothing was written)") from None


def write_text(path: str, text: str, flag: str) -> None:
    """Writes `text` to `path` whole or not at all (rundir.write_text_atomic); an error that
    names `flag` if it cannot, `path` then as it was."""
    try:
        write_text_atomic(path, text)
    except OSError as e:
        raise UserError(f"cannot write {flag} {path} ({e.strerror or e}); free space or choose "
                        f"another path ({path} is as it was)") from None


def _temporary(path: str) -> str:
    """The file write_text_atomic writes through before renaming it to `path`."""
    return f"{path}.tmp"
