"""Process settings that must be made before TensorFlow is first imported, and its quiet import."""

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import tempfile

MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h).
_PR_SET_PDEATHSIG = 1  # Linux prctl option (linux/prctl.h).


def usable_cpus() -> int:
    """The CPU cores this process may run on: its affinity (taskset, a container's or a
    cluster's cpuset), not the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def prepare_process() -> None:
    """Quiets TensorFlow's C++ start-up lines, pools its CPU memory and caps glibc's malloc
    arenas.

    TensorFlow allocates a CPU tensor with malloc unless TF_CPU_ALLOCATOR_USE_BFC is
    set; then its best-fit-with-coalescing allocator (the one it uses on GPUs) reuses
    a pool: a two-task MNIST run's peak resident memory measured 920-927 MiB against
    1,026-1,044 MiB, at the same speed. (Returning large blocks to the system instead,
    with a fixed MALLOC_MMAP_THRESHOLD_, cost 2.5-3 times the run time in page faults.)

    glibc gives each busy thread its own arena (up to 8 per core), and TensorFlow's
    thread pools leave them fragmented: capping them at two took a two-task run's
    peak resident memory from 1,039-1,219 MiB to about 950 MiB at the same speed.
    The cap is set for this process (mallopt) and, through MALLOC_ARENA_MAX, for
    the processes it starts; elsewhere than glibc, it is skipped. A user's own value of
    any of these variables is kept."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
    arenas = os.environ.setdefault("MALLOC_ARENA_MAX", str(MALLOC_ARENAS))
    libc_name = ctypes.util.find_library("c")
    if not libc_name or not arenas.isdigit():
        return
    try:
        libc = ctypes.CDLL(libc_name)
        libc.mallopt(_M_ARENA_MAX, int(arenas))
    except (OSError, AttributeError):
        pass  # Not glibc.


def native_logs_wanted() -> bool:
    """Whether the user asked for TensorFlow's native log lines: TF_CPP_MIN_LOG_LEVEL set
    below 2 (prepare_process sets 2 where the user set nothing)."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2").strip() in ("0", "1")


@contextlib.contextmanager
def held_back_stderr():
    """Holds back what is written to file descriptor 2 (native code's output included) while
    the block runs; it is written out after all if the block fails with an exception."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as held:
            os.dup2(held.fileno(), 2)
            try:
                yield
            except Exception:
                os.dup2(saved, 2)
                held.seek(0)
                os.write(2, held.read())
                raise
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def import_tensorflow(held: tuple[int, ...] = (signal.SIGINT,)):
    """Imports TensorFlow and looks for its devices, keeping the lines its native code prints
    then (absl's "before InitializeLog" warning, oneDNN's notice, the CUDA probes) out of
    stderr: TF_CPP_MIN_LOG_LEVEL does not reach them. They are shown when the import fails,
    and always with TF_CPP_MIN_LOG_LEVEL=0 or 1; so are TensorFlow's Python INFO lines
    (see TensorFlowInfoFilter). A signal of `held` that comes meanwhile is raised after the
    import, as StartInterrupted (held_interrupt). Returns the module."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with held_interrupt(held), (contextlib.nullcontext() if native_logs_wanted()
                            else held_back_stderr()):
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # The CUDA probe's lines come here.
        tf.keras.layers  # Keras (and the matplotlib it imports) loads now, not mid-build.
    if not native_logs_wanted():
        logging.getLogger("absl").addFilter(TensorFlowInfoFilter())
    return tf


class StartInterrupted(KeyboardInterrupt):
    """A stop signal held while a block ran (held_interrupt), raised once it has run; a
    KeyboardInterrupt, whichever signal it was."""

    def __init__(self, signal_number: int):
        super().__init__(signal_number)
        self.signal_number = signal_number


@contextlib.contextmanager
def held_interrupt(signals: tuple[int, ...] = (signal.SIGINT,)):
    """Holds a Ctrl-C (SIGINT), and the other `signals`, that comes while the block runs
    until it has run, then raises StartInterrupted: an interrupt inside an import can leave a
    module half made, which a later import reports as a baffling AttributeError instead of
    the interrupt. In a thread other than the main one nothing is held, nor a signal that is
    ignored."""
    received, previous = [], {}
    try:
        for number in signals:
            handler = signal.getsignal(number)
            if handler is not signal.SIG_IGN:
                previous[number] = signal.signal(number, lambda n, frame: received.append(n))
    except ValueError:  # Not the main thread.
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        raise StartInterrupted(received[0])


class TensorFlowInfoFilter(logging.Filter):
    """Drops the INFO and DEBUG records that TensorFlow's own Python code logs through absl
    (a checkpoint's "Sharding callback duration", for one); warnings and errors, and this
    project's own records, pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        inside = f"{os.sep}tensorflow{os.sep}" in record.pathname
        return record.levelno >= logging.WARNING or not inside


def die_with_parent(signal_number: int = signal.SIGTERM) -> None:
    """Asks Linux to send this process `signal_number` when its parent dies (a sweep's
    worker whose driver was killed: SIGTERM makes the run checkpoint and stop). Where
    prctl is not to be had, nothing; if the parent is already gone, the signal now."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal_number, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError, TypeError):
        return
    if os.getppid() == 1:  # Orphaned before the request took effect.
        os.kill(os.getpid(), signal_number)
