"""A Ray sweep's storage: where its run directories live, so that they outlive any node.

`--storage` names a folder of a file system that every node and the driver reach: a
path on a shared file system, or a URI (s3://, gs://, hdfs://, any scheme pyarrow
knows, else any fsspec knows, as Ray itself resolves its storage). A run works in a
scratch folder on its node and copies its directory here at every checkpoint and at
its end (`RunSync`); a run started again (Ray's retry after its node was lost, or a
later sweep) first copies its directory back and resumes from the latest checkpoint.
Object stores cannot append or rename, so each push writes whole files, a checkpoint's
state files last: the storage only ever names a checkpoint whose files are all there,
and a summary.json saying completed is the last file a run writes.
"""

import contextlib
import json
import os
import posixpath
import time
from typing import Callable

import pyarrow
import pyarrow.fs as pafs

from errors import UserError, first_line
from experiments.progress import TAIL_BYTES, state_from_lines
from rundir import CHECKPOINT_DIR, LOCK_FILE, STATE_FILE

ATTEMPTS_FILE = "ray-attempts.jsonl"  # One line per start of the run on a node.


def _file_system(uri: str) -> tuple[pafs.FileSystem, str]:
    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    try:
        return pafs.FileSystem.from_uri(uri)
    except OSError as e:  # S3 asks for the bucket's region, for one.
        raise _unreachable(uri, e) from None
    except (pyarrow.ArrowInvalid, pyarrow.ArrowNotImplementedError, ValueError):
        try:  # Schemes pyarrow does not know.
            import fsspec

            fs, path = fsspec.core.url_to_fs(uri)
        except (ImportError, ValueError) as e:
            raise UserError(f"--storage {uri}: neither pyarrow nor fsspec can open it "
                            f"({e})") from None
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def _unreachable(uri: str, error: OSError) -> UserError:
    return UserError(f"--storage {uri} cannot be reached ({first_line(error)}); check its "
                     "address, that it exists and the credentials, or give a folder that "
                     "every node reaches")


@contextlib.contextmanager
def _reaching(uri: str):
    """A storage's OSError (it cannot be reached or read) as one line that names it."""
    try:
        yield
    except OSError as e:
        raise _unreachable(uri, e) from None


class Storage:
    """The sweep's folder in its storage, which holds a folder per run."""

    def __init__(self, uri: str):
        self.uri = uri
        self.fs, self.root = _file_system(uri)
        try:
            self.fs.create_dir(self.root, recursive=True)
        except OSError as e:
            raise UserError(f"--storage {uri} cannot be written ({e})") from None

    def is_local_path(self, path: str) -> bool:
        """Whether the storage is this folder of the local file system."""
        return (isinstance(self.fs, pafs.LocalFileSystem)
                and os.path.realpath(self.root) == os.path.realpath(path))

    def path(self, name: str, *parts: str) -> str:
        return posixpath.join(self.root, name, *parts)

    def _exists(self, path: str) -> bool:
        with _reaching(self.uri):
            return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def read_bytes(self, name: str, relative: str) -> bytes | None:
        try:
            with self.fs.open_input_stream(self.path(name, relative)) as f:
                return f.read()
        except (FileNotFoundError, OSError):
            return None

    def read_json(self, name: str, relative: str) -> dict | None:
        content = self.read_bytes(name, relative)
        try:
            return None if content is None else json.loads(content)
        except ValueError:
            return None

    def write_bytes(self, name: str, relative: str, content: bytes) -> None:
        path = self.path(name, relative)
        self.fs.create_dir(posixpath.dirname(path), recursive=True)
        with self.fs.open_output_stream(path) as f:
            f.write(content)

    def status(self, name: str) -> str | None:
        """'completed', 'checkpoint' (it can be resumed), 'started' (nothing to resume
        from), or None (never started)."""
        summary = self.read_json(name, "summary.json")
        if summary is not None and summary.get("status") == "completed":
            return "completed"
        if self._exists(self.path(name, CHECKPOINT_DIR, STATE_FILE)):
            return "checkpoint"
        return "started" if self._exists(self.path(name)) else None

    def remove(self, name: str) -> None:
        if self._exists(self.path(name)):
            with _reaching(self.uri):
                self.fs.delete_dir(self.path(name))

    def pull(self, name: str, local_dir: str) -> str:
        """Copies the run's directory into local_dir/name (what is there already is
        replaced); returns that path."""
        target = os.path.join(local_dir, name)
        os.makedirs(target, exist_ok=True)
        if self._exists(self.path(name)):
            with _reaching(self.uri):
                pafs.copy_files(self.path(name), target, source_filesystem=self.fs,
                                destination_filesystem=pafs.LocalFileSystem())
        return target

    def state(self, name: str) -> dict | None:
        """The run's latest step and test accuracies as far as it has pushed them
        (progress.run_state's, read from the storage)."""
        path = self.path(name, "metrics.jsonl")
        try:
            with self.fs.open_input_file(path) as f:
                size = f.size()
                f.seek(max(0, size - TAIL_BYTES))
                return state_from_lines(f.read().splitlines())
        except (FileNotFoundError, OSError):
            return None

    def attempts(self, name: str) -> list[dict]:
        """Each start of the run on a node: its node, and the step it started from."""
        content = self.read_bytes(name, ATTEMPTS_FILE) or b""
        return [json.loads(line) for line in content.splitlines() if line.strip()]

    def add_attempt(self, name: str, node: str, step: int) -> None:
        """Records a start of the run: on which node, by which process, from which step."""
        lines = [*self.attempts(name), {"node": node, "pid": os.getpid(), "from_step": step,
                                        "time": time.time()}]
        self.write_bytes(name, ATTEMPTS_FILE,
                         "".join(json.dumps(line) + "\n" for line in lines).encode())


class RunSync:
    """Copies a run's local directory to its folder in the storage, each file only when it
    changed since the last push; a checkpoint's state files after everything else, and
    summary.json last of all."""

    def __init__(self, storage: Storage, name: str, run_dir: str):
        self.storage, self.name, self.run_dir = storage, name, run_dir
        self.pushed: dict[str, tuple[int, int]] = {}  # Relative path: (size, mtime_ns).

    def pulled(self) -> None:
        """Counts what is in the run's directory now (just pulled) as pushed."""
        self.pushed = self._local_files()

    def _local_files(self) -> dict[str, tuple[int, int]]:
        files = {}
        for root, _, names in os.walk(self.run_dir):
            for file_name in names:
                if file_name == LOCK_FILE:
                    continue
                path = os.path.join(root, file_name)
                try:
                    info = os.stat(path)
                except FileNotFoundError:  # Removed while walking (an old checkpoint).
                    continue
                files[os.path.relpath(path, self.run_dir)] = (info.st_size, info.st_mtime_ns)
        return files

    def push(self) -> None:
        files = self._local_files()

        def last(relative):  # The order of the push: state files, then the summary, last.
            in_checkpoint = relative.startswith(CHECKPOINT_DIR + os.sep)
            return (relative == "summary.json",
                    relative == os.path.join(CHECKPOINT_DIR, STATE_FILE),
                    in_checkpoint and relative.endswith(".state.json"))

        for relative in sorted(files, key=last):
            if self.pushed.get(relative) == files[relative]:
                continue
            with open(os.path.join(self.run_dir, relative), "rb") as f:
                self.storage.write_bytes(self.name, relative.replace(os.sep, "/"), f.read())
            self.pushed[relative] = files[relative]
        # Checkpoints the run has removed locally (it keeps the latest two).
        for relative in [r for r in self.pushed if r not in files]:
            if relative.startswith(CHECKPOINT_DIR + os.sep):
                self.storage.fs.delete_file(self.storage.path(self.name,
                                                              relative.replace(os.sep, "/")))
            del self.pushed[relative]


class StoredRuns:
    """What a Ray sweep's progress reads of its runs in the storage (progress.LocalRuns's
    questions): a run is under way once it has started on a node in this sweep, and lost
    while the node of its latest start is gone (until Ray starts it again); its step is
    the one it last pushed (its latest checkpoint's, or its end's). `alive`, if given,
    returns the ids of the cluster's live nodes, or None when it cannot tell."""

    def __init__(self, storage: Storage, since: float | None = None,
                 alive: Callable[[], set[str] | None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.storage = storage
        self.since = time.time() if since is None else since
        self.alive, self.clock = alive, clock
        self._alive_at, self._alive = None, None
        self._read: dict[str, tuple[float, list[dict]]] = {}  # Name: (when, its starts).

    def _starts(self, spec) -> list[dict]:
        """The run's starts in this sweep, read from the storage at most once a second (a
        progress block asks several questions of each run)."""
        now = self.clock()
        when, starts = self._read.get(spec.name, (None, None))
        if when is None or now - when >= 1.0:
            starts = [a for a in self.storage.attempts(spec.name)
                      if a.get("time", 0) >= self.since]
            self._read[spec.name] = (now, starts)
        return starts

    def _live_nodes(self) -> set[str] | None:
        if self.alive is None:
            return None
        now = self.clock()
        if self._alive_at is None or now - self._alive_at >= 1.0:  # At most once a second.
            self._alive, self._alive_at = self.alive(), now
        return self._alive

    def running(self, spec) -> bool:
        return bool(self._starts(spec))

    def lost(self, spec) -> bool:
        """Whether the node of the run's latest start in this sweep is gone."""
        starts, live = self._starts(spec), self._live_nodes()
        return bool(starts) and live is not None and starts[-1]["node"] not in live

    def state(self, spec) -> dict | None:
        return self.storage.state(spec.name)

    def retried(self, spec) -> int:
        """How many times the run was started again in this sweep (its node was lost)."""
        return max(0, len(self._starts(spec)) - 1)
