"""The benchmark's arithmetic and report (its timings are figures, never asserted)."""

import io

from benchmarks.__main__ import matmul_gflops, paired_rounds, print_table, training_flops


def test_training_flops_count_three_forward_passes():
    conv = 2 * 28 * 28 * 5 * 5 * 3 * 64  # 5x5x3 -> 64 at 28x28, SAME.
    assert training_flops(("conv", "fc")) == 3 * (conv + 2 * 14 * 14 * 64 * 10)
    assert training_flops(("fc", "fc")) == 3 * (2 * 2352 * 500 + 2 * 500 * 10)
    second = 2 * 14 * 14 * 5 * 5 * 64 * 128
    assert training_flops(("conv", "conv", "fc")) == 3 * (conv + second + 2 * 7 * 7 * 128 * 10)
    # The project's own work on one carried channel.
    assert training_flops(("fc", "fc"), input_shape=(28, 28, 1)) == 3 * (
        2 * 784 * 500 + 2 * 500 * 10)


def test_paired_rounds_report_the_median_ratio_of_back_to_back_rounds():
    project, reference = iter([2.0, 4.0, 6.0, 10.0]), iter([1.0, 1.0, 2.0, 1.0])
    figures = paired_rounds(lambda: next(project), lambda: next(reference), 4, 0.0)
    # Ratios 2, 4, 3, 10: their median, not the ratio of the medians (5 / 1).
    assert figures["speedup"] == 3.5
    assert figures["project"] == 5.0 and figures["reference"] == 1.0
    assert figures["rounds"] == 4 and figures["speedup_quartiles"] == [3.0, 10.0]


def test_matmul_rate_is_measured():
    assert matmul_gflops(64, 0.05) > 0


def test_the_table_shows_every_figure():
    train = {"project_steps_per_s": 12.0, "reference_steps_per_s": 8.0, "speedup": 1.5,
             "speedup_quartiles": [1.25, 1.75], "rounds": 9,
             "project_gflops": 28.0, "reference_gflops": 18.7}
    results = {"machine": {"cpus": 2, "numpy_matmul_gflops": 150.0, "tensorflow": "2.x"},
               "train": {"conv fc": train, "fc fc": train},
               "eval": {"project_images_per_s": 4000.0, "reference_images_per_s": 3000.0,
                        "speedup": 4 / 3, "speedup_quartiles": [1.2, 1.4], "rounds": 11},
               "eval_speedup": 4 / 3,
               "run": {"max_steps": 200, "test_frequency": 100, "wall_s": 50.0,
                       "train_s": 20.0, "eval_s": 20.0,
                       "other_s": 10.0, "startup_s": 6.0, "in_run_other_s": 4.0,
                       "overhead_fraction": 0.2, "peak_rss_mib": 1200.0}}
    out = io.StringIO()
    print_table(results, out)
    text = out.getvalue()
    assert "1.50x" in text and "1.33x" in text
    assert "(1.25-1.75, 9)" in text and "(1.20-1.40, 11)" in text  # Quartiles, rounds.
    assert "28.0 ( 19%)" in text and "18.7 ( 12%)" in text  # Each side's GFLOP/s.
    assert "200 steps, tests every 100: 50.0 s wall" in text
    assert "10.0 other (20.0%: 6.0 startup, 4.0 in the run); peak RSS 1200 MiB" in text


def test_the_startup_share_is_the_wall_time_outside_the_runs_own(monkeypatch):
    from benchmarks import startup

    def fake_run_local(specs, workers, report, runs_per_process):
        assert workers == 1 and len(specs) == 3 and runs_per_process == 3
        assert {spec.config.seed for spec in specs} == {0, 1, 2}
        return {spec.name: {"status": "completed", "seconds": 0.0} for spec in specs}

    monkeypatch.setattr(startup.sweep, "run_local", fake_run_local)
    figures = startup.measure(runs=3, epochs=1, runs_per_process=3)
    assert figures["runs_s"] == 0.0 and figures["startup_share"] == 1.0
