"""Files a command writes for the user (a report, a metrics table): checked before the work
that fills them, and written whole or not at all."""

import contextlib
import os

from errors import UserError


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
    """Writes `text` to `path` whole or not at all (a temporary file beside it, renamed);
    an error that names `flag` if it cannot, `path` then as it was."""
    try:
        with open(_temporary(path), "w") as f:
            f.write(text)
        os.replace(_temporary(path), path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.remove(_temporary(path))
        raise UserError(f"cannot write {flag} {path} ({e.strerror or e}); free space or choose "
                        f"another path ({path} is as it was)") from None


def _temporary(path: str) -> str:
    return f"{path}.tmp"
