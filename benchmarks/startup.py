"""Measures the share of a sweep of short runs spent starting processes (TensorFlow's start),
with a fresh worker process a run against several runs a process, side by side.

    python -m benchmarks.startup [--runs N] [--epochs E] [--rounds R]

Each round runs the same N short split-MNIST runs (Adam, task-incremental, E epochs a
task, 500 test images a task; seeds 0..N-1) through the sweep's local runner with one
worker: once with a fresh process for every run, once with every run in one process,
the order alternating between rounds. A run's own time is what its worker measured
around it (building its tasks and network, training, evaluating, writing its logs);
the rest of the sweep's wall time is starting processes and TensorFlow. Prints, for
each way, the wall time, the runs' own time and the start-up share (1 - own / wall),
medians over the rounds.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time

from experiments import sweep
from experiments.studies import split_mnist
from training.config import RunConfig


def _specs(log_dir: str, runs: int, epochs: int) -> list:
    point = dict(next(p for p in split_mnist.points("mnist") if p["name"] == "task-adam"))
    point.pop("name")
    point.update(task_epochs=epochs, test_examples=500)
    return [sweep.RunSpec(f"run-{seed}", RunConfig(**point, seed=seed, log_dir=log_dir,
                                                  run_name=f"run-{seed}"))
            for seed in range(runs)]


def measure(runs: int, epochs: int, runs_per_process: int) -> dict:
    """One sweep of the runs in a scratch folder: wall time, the runs' own time, share."""
    with tempfile.TemporaryDirectory() as log_dir:
        specs = _specs(log_dir, runs, epochs)
        start = time.monotonic()
        results = sweep.run_local(specs, workers=1, report=lambda spec, result: None,
                                  runs_per_process=runs_per_process)
        wall = time.monotonic() - start
    failed = [name for name, r in results.items() if r["status"] != "completed"]
    if failed:
        raise SystemExit(f"runs failed: {', '.join(failed)}")
    own = sum(r["seconds"] for r in results.values())
    return {"wall_s": wall, "runs_s": own, "startup_share": 1 - own / wall}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="python -m benchmarks.startup",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8, help="short runs a sweep (default: 8)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs a task (default: 1)")
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds (default: 3)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    ways = {"a fresh process a run": 1, "every run in one process": args.runs}
    rounds = {name: [] for name in ways}
    for r in range(args.rounds):
        order = list(ways) if r % 2 == 0 else list(reversed(ways))
        for name in order:
            rounds[name].append(measure(args.runs, args.epochs, ways[name]))
            print(f"round {r + 1} {name}: {json.dumps(rounds[name][-1])}", flush=True)
    figures = {name: {key: statistics.median(m[key] for m in measured)
                      for key in ("wall_s", "runs_s", "startup_share")}
               for name, measured in rounds.items()}
    print(f"\n{args.runs} runs of {args.epochs} epoch(s) a task, one worker, medians of "
          f"{args.rounds} rounds:")
    for name, f in figures.items():
        print(f"  {name:26} wall {f['wall_s']:6.1f} s, runs {f['runs_s']:6.1f} s, "
              f"start-up share {f['startup_share']:.1%}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
