"""Measures GEM's step on Hsu et al.'s split-MNIST cells (GEM 1100: the MLP, a memory of 1,100,
naive rehearsal beside it): the step's parts, and whole GEM cells against SGD's.

    python -m benchmarks.gem [--scenario task|domain|class] [--threads T] [--rounds R]
                             [--epochs E] [--parts-only]

Parts, at the start of the last task's period (four tasks remembered), each the median
CPU time of 9 calls: the batch's gradient (batch 128); the memory's task gradients a
pass a task (how GEM takes them for any network, and took them for every one before)
and in one pass (a network of dense layers); the programme's projection given the
whole gradients, in numpy's float64 (project_by_qp, the authors' code's computation)
and with the products in TensorFlow and quadprog on them alone (GEM's). Cells: the
scenario's GEM 1100 cell and SGD cell, one after the other in this process, R rounds,
each run's CPU time and wall time (building its tasks and network, training,
evaluating); their ratio is what a GEM cell costs in SGD cells. CPU times, with T
threads (default 1), stand up to a machine shared with other work; wall times do not.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import types

import runtime


def _config(scenario: str, method: str, **changes):
    from experiments.studies import split_mnist
    from training.config import RunConfig

    point = dict(next(p for p in split_mnist.points("mnist")
                      if p["name"] == f"{scenario}-{method}"))
    point.pop("name")
    return RunConfig(**{**point, **changes})


def _cpu_ms(call, calls: int = 9) -> float:
    call()  # Traced and warm.
    times = []
    for _ in range(calls):
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return round(1000 * statistics.median(times), 2)


def parts(scenario: str) -> dict:
    """The GEM step's parts at the last period's start, in CPU milliseconds."""
    import numpy as np
    import tensorflow as tf

    from tasks import build_tasks
    from tasks.task import mixed_batch
    from training.methods.gem import GEM, combination, project, project_by_qp, _dot
    from training.runner import _model_and_optimizer, load_sources
    from training.switching import SwitchSchedule

    config = _config(scenario, "gem-1100", seed=0, log_dir=tempfile.gettempdir())
    tasks = build_tasks(config.tasks, sources=load_sources(config),
                        input_style=config.input_style, seed=config.seed,
                        task_signal=config.head == "per-task", labels=config.labels,
                        pad=config.image_pad, normalize=config.normalize)
    model, _, methods = _model_and_optimizer(config, tasks)
    schedule = SwitchSchedule(config, tasks, methods)
    run = types.SimpleNamespace(periods=schedule.periods, tasks=tasks, config=config,
                                model=model, methods=methods)
    methods.period_boundary(run, sum(schedule.periods.lengths[:-1]))
    gem = next(m for m in methods.methods if isinstance(m, GEM))
    seed, loss = tf.constant([0, 1], tf.int64), methods.training_loss
    constrained = tf.range(len(tasks)) < len(tasks) - 1
    batch = tf.nest.map_structure(lambda t: t[:config.batch], mixed_batch(
        tasks, gem.task_ids, gem.example_ids, seed))
    layers = gem.layers

    @tf.function
    def memory(one_pass: bool):
        gem.layers = layers if one_pass else None
        try:
            return gem.task_gradients(model, seed, loss, constrained)
        finally:
            gem.layers = layers

    gradients = tf.function(lambda: methods.gradients(model, batch)[0])()
    blocks = memory(True)
    dots = tf.add_n([_dot(m, g) for m, g in zip(blocks, gradients)])
    eye = tf.eye(len(tasks))
    whole = np.stack([np.concatenate([combination(b, eye[k]).numpy().ravel() for b in blocks])
                      for k in range(len(tasks) - 1)])
    flat = np.concatenate([g.numpy().ravel() for g in gradients])
    projection = tf.function(lambda: project(blocks, gradients, dots, constrained, 0.5))
    return {
        "batch_gradient_ms": _cpu_ms(
            tf.function(lambda: methods.gradients(model, batch)[0])),
        "memory_a_pass_a_task_ms": _cpu_ms(lambda: memory(False)),
        "memory_one_pass_ms": _cpu_ms(lambda: memory(True)),
        "programme_numpy_ms": _cpu_ms(lambda: project_by_qp(whole, flat, 0.5)),
        "programme_products_in_tf_ms": _cpu_ms(projection),
        "varying_features": int(tf.size(gem.cache[1])),
    }


def cells(scenario: str, rounds: int, epochs: int | None) -> dict:
    """CPU and wall seconds of the scenario's GEM 1100 and SGD cells, alternately."""
    import tensorflow as tf

    from training import run_experiment

    times = {method: {"cpu_s": [], "wall_s": []} for method in ("gem-1100", "sgd")}
    with tempfile.TemporaryDirectory() as log_dir:
        for r in range(rounds):
            for method in times:
                changes = {"task_epochs": epochs} if epochs else {}
                config = _config(scenario, method, seed=0, log_dir=log_dir,
                                 run_name=f"{method}-{r}", **changes)
                tf.keras.backend.clear_session()
                cpu, wall = time.process_time(), time.monotonic()
                with open(os.devnull, "w") as quiet:
                    run_experiment(config, progress_stream=quiet)
                times[method]["cpu_s"].append(time.process_time() - cpu)
                times[method]["wall_s"].append(time.monotonic() - wall)
                print(f"{scenario}-{method}: {times[method]['cpu_s'][-1]:.1f} s CPU, "
                      f"{times[method]['wall_s'][-1]:.1f} s wall", file=sys.stderr)
    medians = {f"{method}_{k}": round(statistics.median(v), 2) for method, by in times.items()
               for k, v in by.items()}
    return {**medians,
            "gem_over_sgd_cpu": round(medians["gem-1100_cpu_s"] / medians["sgd_cpu_s"], 2)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="python -m benchmarks.gem",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=("task", "domain", "class"), default="task")
    parser.add_argument("--threads", type=int, default=1,
                        help="TensorFlow's threads (default: 1)")
    parser.add_argument("--rounds", type=int, default=1, help="cells of each (default: 1)")
    parser.add_argument("--epochs", type=int, help="epochs a task (default: the cells' 4)")
    parser.add_argument("--parts-only", action="store_true", help="no whole cells")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    runtime.prepare_process()
    tf = runtime.import_tensorflow()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(min(args.threads, 2))
    figures = {"scenario": args.scenario, "threads": args.threads, **parts(args.scenario)}
    if not args.parts_only:
        figures.update(cells(args.scenario, args.rounds, args.epochs))
    print(json.dumps(figures, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
