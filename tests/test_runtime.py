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
