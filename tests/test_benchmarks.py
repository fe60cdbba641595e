"""The benchmark's arithmetic and report (its timings are figures, never asserted)."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.__main__ import (WINDOW, PaperPair, conv_fc_step_bytes, matmul_gflops,
                                 paired_rounds, paper_eval_figures, paper_flops, print_table,
                                 tf_bandwidth_gbs, tf_matmul_gflops, training_flops)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_training_flops_count_three_forward_passes():
    conv = 2 * 28 * 28 * 5 * 5 * 3 * 64  # 5x5x3 -> 64 at 28x28, SAME.
    assert training_flops(("conv", "fc")) == 3 * (conv + 2 * 14 * 14 * 64 * 10)
    assert training_flops(("fc", "fc")) == 3 * (2 * 2352 * 500 + 2 * 500 * 10)
    second = 2 * 14 * 14 * 5 * 5 * 64 * 128
    assert training_flops(("conv", "conv", "fc")) == 3 * (conv + second + 2 * 7 * 7 * 128 * 10)
    # The project's own work on one carried channel.
    assert training_flops(("fc", "fc"), input_shape=(28, 28, 1)) == 3 * (
        2 * 784 * 500 + 2 * 500 * 10)


# The figures the benchmark's FLOP counts gave when each wrote the networks' shapes out
# itself (before models.spec.layer_shapes): the GFLOP/s it reports must not move.
FLOPS_BEFORE = {(("conv", "fc"), 1): 8279040, (("conv", "fc"), 3): 23331840,
                (("conv", "conv", "fc"), 1): 248747520, (("conv", "conv", "fc"), 3): 263800320,
                (("fc", "fc"), 1): 2382000, (("fc", "fc"), 3): 7086000}


@pytest.mark.parametrize("network, channels", sorted(FLOPS_BEFORE))
def test_the_flop_counts_of_the_benchmarks_networks_are_as_before(network, channels):
    assert training_flops(network, input_shape=(28, 28, channels)) == \
        FLOPS_BEFORE[network, channels]


def test_the_paper_networks_flop_count_is_as_before():
    assert paper_flops((48, 48), 10) == 46338048


def test_paired_rounds_report_the_median_ratio_of_back_to_back_rounds():
    project, reference = iter([2.0, 4.0, 6.0, 10.0]), iter([1.0, 1.0, 2.0, 1.0])
    figures = paired_rounds(lambda: next(project), lambda: next(reference), 4, 0.0)
    # Ratios 2, 4, 3, 10: their median, not the ratio of the medians (5 / 1).
    assert figures["speedup"] == 3.5
    assert figures["project"] == 5.0 and figures["reference"] == 1.0
    assert figures["rounds"] == 4 and figures["speedup_quartiles"] == [3.0, 10.0]


def test_the_paper_networks_flops_count_its_convs_and_its_fc_stack_with_the_signal():
    convs = 2 * 9 * (48 * 48 * 3 * 16 + 24 * 24 * 16 * 32 + 12 * 12 * 32 * 48 + 6 * 6 * 48 * 64)
    fcs = 2 * ((3 * 3 * 64 + 10) * 512 + 3 * 512 * 512 + 512 * 2)
    assert paper_flops((48, 48), 10) == 3 * (convs + fcs)


def test_matmul_rates_and_the_memory_bandwidth_are_measured():
    assert matmul_gflops(64, 0.05) > 0 and tf_matmul_gflops(64, 0.05) > 0
    assert tf_bandwidth_gbs(8, 0.05) > 0


def test_the_conv_fc_steps_unavoidable_bytes_count_every_pass():
    step = conv_fc_step_bytes(batch=100, channels=1)
    block = 100 * 14 * 14 * 64 * 4  # One [100, 14, 14, 64] float32 tensor: 5.02 MB.
    assert step["block"] == 14 * block
    assert step["images"] == 2 * 100 * 784 * 4
    assert step["weights"] == 5 * 4 * (25 * 64 + 64 + 12544 * 10 + 10)
    assert step["total"] == step["block"] + step["images"] + step["weights"]
    assert conv_fc_step_bytes(channels=3)["images"] == 3 * step["images"]


def test_the_paper_pair_trains_the_same_network_from_the_same_weights(tmp_path):
    from data import load_shapes
    from tasks import build_tasks

    shapes = load_shapes(height=48, width=48, train=700, test=20, seed=0,
                         cache_dir=str(tmp_path))
    tasks = build_tasks(["shapes-colour-red", "shapes-colour-blue", "shapes-colour-green"],
                        sources={"shapes": shapes}, input_style="combined", seed=0,
                        task_signal=True, signal_scale=10.0)
    pair = PaperPair(tasks)
    for mine, theirs in zip(pair.model.get_weights(), pair.reference.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    (images, signal), labels = next(pair.reference_batches)
    assert images.shape == (64, 48, 48, 3) and float(np.max(images)) <= 1.0
    assert sorted(set(np.max(signal, axis=1).tolist())) == [10.0]
    np.testing.assert_allclose(pair.model((images, signal), training=False),
                               pair.reference((images, signal), training=False), atol=1e-5)
    assert pair.epoch_steps == 10  # 700 examples an epoch, in batches of 64.
    # Two windows: the second starts the epoch's batches again.
    assert pair.project_rate(2 * WINDOW) > 0 and pair.reference_rate(WINDOW) > 0
    # Both trained: neither is where it started.
    assert not np.allclose(pair.model.get_weights()[0], pair.reference.get_weights()[0])


def test_the_table_shows_every_figure():
    train = {"project_steps_per_s": 12.0, "reference_steps_per_s": 8.0, "speedup": 1.5,
             "speedup_quartiles": [1.25, 1.75], "rounds": 9,
             "project_gflops": 28.0, "reference_gflops": 18.7}
    limits = dict(train, step_bytes={"total": 72e6}, bandwidth_limit_steps_per_s=250.0,
                  flops_limit_steps_per_s=1000.0)
    results = {"machine": {"cpus": 2, "device": "CPU, 2 cores", "kernels": "fast",
                           "tf_matmul_gflops": 150.0, "numpy_matmul_gflops": 90.0,
                           "tf_bandwidth_gbs": 18.0,
                           "matmul_size": 2048, "tensorflow": "2.x"},
               "train": {"conv fc": limits, "fc fc": train, "shapes-paper": train},
               "eval": {"project_images_per_s": 4000.0, "reference_images_per_s": 3000.0,
                        "speedup": 4 / 3, "speedup_quartiles": [1.2, 1.4], "rounds": 11},
               "eval_speedup": 4 / 3,
               "eval_paper": {"project_images_per_s": 9000.0, "reference_images_per_s": 2000.0,
                              "speedup": 4.5, "speedup_quartiles": [4.0, 5.0], "rounds": 9,
                              "images": 7500},
               "run": {"max_steps": 200, "test_frequency": 100, "wall_s": 50.0,
                       "train_s": 20.0, "eval_s": 20.0,
                       "other_s": 10.0, "startup_s": 6.0, "in_run_other_s": 4.0,
                       "overhead_fraction": 0.2, "peak_rss_mib": 1200.0},
               "replication": {"tasks": 10, "steps": 3000, "wall_s": 100.0, "train_s": 60.0,
                               "eval_s": 30.0, "other_s": 10.0, "train_steps_per_s": 50.0}}
    out = io.StringIO()
    print_table(results, out)
    text = out.getvalue()
    assert "1.50x" in text and "1.33x" in text
    assert "(1.25-1.75, 9)" in text and "(1.20-1.40, 11)" in text  # Quartiles, rounds.
    assert "28.0 ( 19%)" in text and "18.7 ( 12%)" in text  # Each side's GFLOP/s.
    assert "200 steps, tests every 100: 50.0 s wall" in text
    assert "10.0 other (20.0%: 6.0 startup, 4.0 in the run); peak RSS 1200 MiB" in text
    assert "TensorFlow 150.0 GFLOP/s (the ceiling below), numpy 90.0" in text
    assert "streaming memory 18.0 GB/s" in text
    assert ("72.0 MB a step that no kernel can avoid moving, at most 250 steps/s at 18.0 GB/s"
            in text)
    assert "at most 1000 steps/s; the project's 12.0 steps/s is 5% of the nearer limit" in text
    assert text.startswith("CPU, 2 cores, the project's kernels fast, TensorFlow 2.x;")
    assert "shapes-paper, batch 64" in text and "conv fc, batch 100" in text
    assert "4.50x" in text and "every task's held-out set, 7,500 images" in text
    assert ("one ten-task replication (cpu size, 10 colour tasks, 3000 steps): 100.0 s wall = "
            "60.0 training (50.0 steps/s) + 30.0 evaluation + 10.0 other") in text


def test_the_startup_share_is_the_wall_time_outside_the_runs_own(monkeypatch):
    from benchmarks import startup

    def fake_run_local(specs, workers, report, runs_per_process):
        assert workers == 1 and len(specs) == 3 and runs_per_process == 3
        assert {spec.config.seed for spec in specs} == {0, 1, 2}
        return {spec.name: {"status": "completed", "seconds": 0.0} for spec in specs}

    monkeypatch.setattr(startup.sweep, "run_local", fake_run_local)
    figures = startup.measure(runs=3, epochs=1, runs_per_process=3)
    assert figures["runs_s"] == 0.0 and figures["startup_share"] == 1.0


def test_the_paper_evaluation_is_timed_on_every_tasks_held_out_set(tmp_path):
    from data import load_shapes
    from tasks import build_tasks

    shapes = load_shapes(height=48, width=48, train=20, test=40, seed=0, cache_dir=str(tmp_path))
    tasks = build_tasks(["shapes-colour-red", "shapes-shape-ring"], sources={"shapes": shapes},
                        input_style="combined", seed=0, task_signal=True, signal_scale=10.0)
    figures = paper_eval_figures(tasks, 1, 0.0)
    assert figures["images"] == sum(task.test_size() for task in tasks)
    assert figures["rounds"] == 1 and figures["project_images_per_s"] > 0


def _sees_a_gpu():
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def test_the_benchmark_on_a_gpu_says_at_once_when_there_is_none(capsys):
    from benchmarks.__main__ import main

    if _sees_a_gpu():
        pytest.skip("a GPU is here: the benchmark would run on it")
    assert main(["--gpu", "--quick"]) == 2
    assert "--gpu was given but TensorFlow sees no GPU" in capsys.readouterr().err


def test_the_gpu_script_stops_with_one_line_where_there_is_no_gpu(tmp_path):
    if _sees_a_gpu():
        pytest.skip("a GPU is here: the script would run the benchmark on it")
    script = os.path.join(REPO, "benchmarks", "gpu.sh")
    result = subprocess.run(["sh", script], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHON": sys.executable,
                                 "PYTHONPATH": REPO})
    assert result.returncode != 0 and result.stderr.strip().endswith("sees no GPU here")
    assert not list(tmp_path.iterdir())  # Nothing half-written.
    # Its run is a two-task run on the GPU with the kernels chosen there.
    from training.flags import config_from_args, parse_flags

    config = config_from_args(parse_flags(["task.py", "--gpu", "--tasks", "id", "inv",
                                           "--task-time", "2000", "--max-steps", "4000"]))
    assert config.gpu and config.kernels == "plain"


def test_with_the_gpu_kernels_both_sides_are_keras_layers_on_every_channel(tmp_path,
                                                                             monkeypatch):
    # What --gpu measures, on the CPU: the project's side built with the kernels a run
    # takes on a GPU (Keras's own, on every input channel), its stream and step the runner's.
    import benchmarks.__main__ as bench
    from data import load_mnist
    from tasks import build_tasks
    from tests.conftest import write_mnist_dir

    monkeypatch.setattr(bench, "project_kernels", lambda: "plain")
    write_mnist_dir(tmp_path / "mnist", n_train=300, n_test=20)
    mnist = load_mnist("idx", str(tmp_path / "mnist"), None)
    [task] = build_tasks(["id"], sources={"mnist": mnist}, input_style="combined", seed=0,
                         all_channels=True)
    images = np.pad(mnist.train_images[..., None] / np.float32(255), [(0, 0)] * 3 + [(0, 2)])
    pair = bench.Pair(("fc", "fc"), task, images, mnist.train_labels.astype(np.int32))
    assert not any("carried" in type(layer).__name__.lower() for layer in pair.model.layers)
    assert [type(layer) for layer in pair.model.layers] == \
        [type(layer) for layer in pair.reference.layers]
    assert pair.project_rate(WINDOW) > 0 and pair.reference_rate(WINDOW) > 0
