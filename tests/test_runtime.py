"""Process settings made before TensorFlow is imported."""

import os

import runtime


def test_prepare_process_sets_its_defaults(monkeypatch):
    for name in ("TF_CPP_MIN_LOG_LEVEL", "TF_CPU_ALLOCATOR_USE_BFC", "MALLOC_ARENA_MAX"):
        monkeypatch.delenv(name, raising=False)
    runtime.prepare_process()
    assert os.environ["TF_CPU_ALLOCATOR_USE_BFC"] == "true"
    assert os.environ["MALLOC_ARENA_MAX"] == str(runtime.MALLOC_ARENAS)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_prepare_process_keeps_a_users_own_settings(monkeypatch):
    monkeypatch.setenv("TF_CPU_ALLOCATOR_USE_BFC", "false")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    runtime.prepare_process()
    assert os.environ["TF_CPU_ALLOCATOR_USE_BFC"] == "false"
    assert os.environ["MALLOC_ARENA_MAX"] == "4"


def _stderr_of(code: str, **env) -> str:
    import subprocess
    import sys

    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(runtime.__file__),
                            capture_output=True, text=True, env={**environment, **env},
                            timeout=600)
    return result.stderr


QUIET_START = ("import runtime, sys; runtime.prepare_process(); tf = runtime.import_tensorflow(); "
               "tf.constant(1) + 1; print('ours', file=sys.stderr)")


def test_tensorflows_start_up_lines_are_kept_out_unless_asked_for():
    assert _stderr_of(QUIET_START).strip() == "ours"
    shown = _stderr_of(QUIET_START, TF_CPP_MIN_LOG_LEVEL="0")
    assert "ours" in shown and len(shown.strip().splitlines()) > 1  # TensorFlow's own lines.


HELD_BACK = """
import os, runtime
try:
    with runtime.held_back_stderr():
        os.write(2, b"native line\\n")
        raise ValueError("boom")
except ValueError:
    pass
with runtime.held_back_stderr():
    os.write(2, b"hidden\\n")
"""


def test_what_was_held_back_is_shown_when_the_block_fails():
    assert _stderr_of(HELD_BACK) == "native line\n"


def test_tensorflows_own_info_records_are_dropped_and_others_pass():
    import logging

    def record(path, level):
        return logging.LogRecord("absl", level, path, 1, "message", (), None)

    keep = runtime.TensorFlowInfoFilter().filter
    tf_file = os.path.join("site-packages", "tensorflow", "python", "checkpoint", "saver.py")
    assert not keep(record(tf_file, logging.INFO))
    assert keep(record(tf_file, logging.WARNING))
    assert keep(record(os.path.join("data", "dogs.py"), logging.INFO))


HELD_INTERRUPT = """
import os, signal, runtime
done = []
try:
    with runtime.held_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("the block ran to its end")
except KeyboardInterrupt:
    print(done, "then the interrupt")
"""


def test_a_ctrl_c_while_tensorflow_loads_waits_for_the_block_to_end():
    import signal
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", HELD_INTERRUPT],
                            cwd=os.path.dirname(runtime.__file__), capture_output=True,
                            text=True, timeout=600,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert result.stdout == "['the block ran to its end'] then the interrupt\n"


def test_a_sweep_splits_the_cores_it_may_run_on_not_the_machines(monkeypatch):
    from experiments.sweep import threads_per_run

    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 5}, raising=False)
    assert runtime.usable_cpus() == 2
    assert threads_per_run(1) == 2
    assert threads_per_run(4) == 1
