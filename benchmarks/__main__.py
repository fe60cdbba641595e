"""Measures the project's training and evaluation against a plain Keras reference, side by side.

The reference is the same network with models.builder's plain kernels (Keras's own
layers, every input channel), Keras's SGD and tf.data batches: how one would write
it without this project.

    python -m benchmarks [--quick] [--json FILE]

Training steps per second at batch 100 for `conv fc`, `conv conv fc` and `fc fc`,
evaluation images per second, the training step's achieved GFLOP/s against
numpy's float32 matrix-multiply rate, and a whole two-task task.py run split into
training, evaluation and everything else, with its peak resident memory. Project
and reference alternate in paired rounds, back to back, so that a noisy
machine affects both alike: each side's rate is the median of its rounds, and
each speedup the median of the rounds' ratios (with their quartiles).
"""

import runtime

runtime.prepare_process()  # Before TensorFlow is first imported.
runtime.import_tensorflow()  # Without its start-up lines.

import argparse  # noqa: E402
import os  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETWORKS = (("conv", "fc"), ("conv", "conv", "fc"), ("fc", "fc"))
BATCH = 100
WINDOW = 10  # Steps per compiled call in the project's runner (train_summary_frequency).
TEST_FREQUENCY = 100  # The whole run's, as the study's (and the tool's default).


def matmul_gflops(size: int, seconds: float) -> float:
    """numpy's float32 matrix-multiply rate: the practical ceiling of this machine."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    b = np.random.default_rng(1).random((size, size), dtype=np.float32)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * size ** 3 * count / (time.perf_counter() - start) / 1e9


def training_flops(network, input_shape=(28, 28, 3), conv_filters=64, fc_units=500) -> float:
    """Floating-point operations of one training step on one image: 3x the forward pass's
    multiply-adds of the conv and dense layers, the usual count (backward is twice forward)."""
    height, width, channels = input_shape
    features = height * width * channels
    forward = 0.0
    for i, kind in enumerate(network):
        if kind == "conv":
            filters = conv_filters * 2 ** i
            forward += 2 * height * width * 5 * 5 * channels * filters
            height, width, channels = -(-height // 2), -(-width // 2), filters
            features = height * width * channels
        else:
            units = 10 if i == len(network) - 1 else fc_units
            forward += 2 * features * units
            features = units
    return 3 * forward


def plain_copy(model, network):
    """The reference: `network` built from plain Keras layers (models.builder's plain
    kernels, every input channel), with the project model's weights, each conv and dense
    layer's full kernel and bias in order."""
    from models import build_model

    reference = build_model(network, input_shape=(28, 28, 3), kernels="plain")
    values = []
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            values += [np.asarray(layer.kernel), np.asarray(layer.bias)]
    reference.set_weights(values)
    return reference


class Pair:
    """The project's model and step beside the reference's, for one network."""

    def __init__(self, network, task, float_images, labels):
        import tensorflow as tf

        from models import build_model
        from tasks.streams import TaskStream
        from training.steps import make_optimizer

        self.tf, self.network = tf, network
        self.model = build_model(network, input_shape=(28, 28, 3), carried=task.carried)
        self.reference = plain_copy(self.model, network)
        self.optimizer = make_optimizer("sgd", 0.01)
        self.optimizer.build(self.model.trainable_variables)
        self.reference_optimizer = tf.keras.optimizers.SGD(0.01)
        self.batches = TaskStream(task, BATCH)
        dataset = (tf.data.Dataset.from_tensor_slices((float_images, labels))
                   .shuffle(len(labels), seed=0).repeat().batch(BATCH)
                   .prefetch(tf.data.AUTOTUNE))
        self.reference_batches = iter(dataset)
        self.reference_step = self._reference_step()

    def _reference_step(self):
        tf, model, optimizer = self.tf, self.reference, self.reference_optimizer

        @tf.function
        def step(images, labels):
            with tf.GradientTape() as tape:
                logits = model(images, training=True)
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss
        return step

    def project_rate(self, steps: int) -> float:
        from training.steps import train_steps

        count = self.tf.constant(WINDOW)
        start = time.perf_counter()
        for _ in range(steps // WINDOW):
            losses, _ = train_steps(self.model, self.optimizer, self.batches, count)
        losses.numpy()
        return steps // WINDOW * WINDOW / (time.perf_counter() - start)

    def reference_rate(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            loss = self.reference_step(*next(self.reference_batches))
        loss.numpy()
        return steps / (time.perf_counter() - start)


def paired_rounds(project, reference, min_rounds: int, seconds: float):
    """Alternates project() and reference() (each returns a rate) for at least `min_rounds`
    rounds and until `seconds` have passed; the medians of each side's rates and of
    the per-round ratios, with the ratios' quartiles. A round's two figures are
    measured back to back, so the machine's drift (its speed varies by a fifth or
    more here) affects both alike, and the median ratio is steadier than a ratio of
    medians."""
    rates, start = [], time.perf_counter()
    while len(rates) < min_rounds or time.perf_counter() - start < seconds:
        rates.append((project(), reference()))
    ratios = sorted(p / r for p, r in rates)
    n = len(ratios)
    return {"project": statistics.median(p for p, _ in rates),
            "reference": statistics.median(r for _, r in rates),
            "speedup": statistics.median(ratios), "rounds": n,
            "speedup_quartiles": [ratios[n // 4], ratios[(3 * n) // 4]]}


def train_figures(network, task, float_images, labels, min_rounds: int,
                  seconds: float) -> dict:
    """Steps per second of the project's step and the reference's, in paired rounds of
    the same number of steps: a multiple of WINDOW that the project takes about a
    quarter of a second for."""
    pair = Pair(network, task, float_images, labels)
    pair.project_rate(2 * WINDOW)  # Traces and warms up.
    pair.reference_rate(2 * WINDOW)
    steps = WINDOW * max(1, round(0.25 * pair.project_rate(2 * WINDOW) / WINDOW))
    rounds = paired_rounds(lambda: pair.project_rate(steps), lambda: pair.reference_rate(steps),
                           min_rounds, seconds)
    return {"project_steps_per_s": rounds["project"], "reference_steps_per_s": rounds["reference"],
            "speedup": rounds["speedup"], "speedup_quartiles": rounds["speedup_quartiles"],
            "rounds": rounds["rounds"], "steps_per_round": steps}


def eval_figures(task, float_images, labels, min_rounds: int, seconds: float) -> dict:
    """Images per second evaluating `conv fc` on the task's test set: the project's evaluate
    against Keras's model.evaluate on float32 batches of the same size."""
    import tensorflow as tf

    from models import build_model
    from training.steps import EVAL_BATCH, evaluate

    model = build_model(("conv", "fc"), input_shape=(28, 28, 3), carried=task.carried)
    reference = plain_copy(model, ("conv", "fc"))
    reference.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    dataset = tf.data.Dataset.from_tensor_slices((float_images, labels)).batch(EVAL_BATCH)
    count = len(labels)

    def project():
        start = time.perf_counter()
        evaluate(model, [task])
        return count / (time.perf_counter() - start)

    def plain():
        start = time.perf_counter()
        reference.evaluate(dataset, verbose=0)
        return count / (time.perf_counter() - start)

    project(), plain()  # Traces.
    rounds = paired_rounds(project, plain, min_rounds, seconds)
    return {"project_images_per_s": rounds["project"],
            "reference_images_per_s": rounds["reference"], "speedup": rounds["speedup"],
            "speedup_quartiles": rounds["speedup_quartiles"], "rounds": rounds["rounds"]}


def whole_run(max_steps: int) -> dict:
    """A two-task task.py run in a child process: its wall time split, and its peak RSS.

    The blog's run, shortened: a period of each task (`id` then `inv`) and every
    task's whole test set evaluated every 100 steps (the tool's defaults, the
    study's settings).

    "other" is split further into startup (process start to the run's clock starting:
    importing TensorFlow, loading data, building the model) and the rest."""
    with tempfile.TemporaryDirectory() as log_dir:
        start = time.perf_counter()
        subprocess.run([sys.executable, "task.py", "--tasks", "id", "inv", "--task-time",
                        str(max_steps // 2), "--max-steps", str(max_steps), "--test-frequency",
                        str(TEST_FREQUENCY), "--log-dir", log_dir, "--run-name", "run"],
                       cwd=REPO_DIR, check=True, capture_output=True)
        wall = time.perf_counter() - start
        with open(os.path.join(log_dir, "run", "summary.json")) as f:
            summary = json.load(f)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    train, evaluation = summary["train_time_s"], summary["eval_time_s"]
    startup = wall - summary["wall_time_s"]
    return {"max_steps": max_steps, "test_frequency": TEST_FREQUENCY, "wall_s": wall,
            "train_s": train, "eval_s": evaluation,
            "other_s": wall - train - evaluation, "startup_s": startup,
            "in_run_other_s": wall - train - evaluation - startup,
            "overhead_fraction": (wall - train - evaluation) / wall,
            "peak_rss_mib": peak_kib / 1024}


def measure(quick: bool) -> dict:
    # The whole run goes first: a child's peak RSS counts what it shares with its parent
    # between fork and exec, so the parent must still be small.
    # 4,000 steps: long enough that the fixed start-up (importing TensorFlow is most of
    # it) weighs as in a real run, which is longer still (the blog's: 30,000 steps).
    run = whole_run(200 if quick else 4000)
    import tensorflow as tf

    from data import load_mnist
    from tasks import build_tasks

    tf.get_logger().setLevel("WARNING")
    # Paired rounds: at least this many, and for at least this many seconds a network.
    min_rounds, seconds = (2, 0.0) if quick else (9, 30.0)
    mnist = load_mnist("idx", None, None)
    [train_task] = build_tasks(["id"], sources={"mnist": mnist}, input_style="combined", seed=0)
    float_train = np.pad(mnist.train_images[..., None] / np.float32(255), [(0, 0)] * 3 + [(0, 2)])
    float_test = np.pad(mnist.test_images[..., None] / np.float32(255), [(0, 0)] * 3 + [(0, 2)])
    ceiling = matmul_gflops(512 if quick else 1024, 1.0 if quick else 3.0)
    results = {"machine": {"cpus": os.cpu_count(), "numpy_matmul_gflops": ceiling,
                           "tensorflow": tf.__version__}, "train": {}}
    for network in NETWORKS:
        figures = train_figures(network, train_task, float_train,
                                mnist.train_labels.astype(np.int32), min_rounds, seconds)
        # Each side's own work: the project's first layer computes with the carried
        # channels only (one, for MNIST), the reference's with all three.
        carried = train_task.carried[1] - train_task.carried[0]
        project_flops = training_flops(network, input_shape=(28, 28, carried)) * BATCH
        reference_flops = training_flops(network) * BATCH
        figures.update(project_gflops=project_flops * figures["project_steps_per_s"] / 1e9,
                       reference_gflops=reference_flops * figures["reference_steps_per_s"] / 1e9)
        results["train"][" ".join(network)] = figures
    results["eval"] = eval_figures(train_task, float_test, mnist.test_labels.astype(np.int32),
                                   min_rounds, seconds)
    results["run"] = run
    results.update(
        train_speedup_conv_fc=results["train"]["conv fc"]["speedup"],
        train_speedup_fc_fc=results["train"]["fc fc"]["speedup"],
        eval_speedup=results["eval"]["speedup"],
        overhead_fraction=results["run"]["overhead_fraction"],
        peak_rss_mib=results["run"]["peak_rss_mib"])
    return results


def _spread(figures: dict) -> str:
    low, high = figures["speedup_quartiles"]
    return f"({low:.2f}-{high:.2f}, {figures['rounds']})"


def print_table(results: dict, out=sys.stdout) -> None:
    machine = results["machine"]
    print(f"{machine['cpus']} CPUs, TensorFlow {machine['tensorflow']}, numpy float32 matmul "
          f"{machine['numpy_matmul_gflops']:.1f} GFLOP/s", file=out)
    ceiling = machine["numpy_matmul_gflops"]
    print(f"\n{'training, batch 100':22} {'project':>10} {'reference':>10} {'speedup':>8} "
          f"{'(quartiles, rounds)':>20} {'GFLOP/s (of matmul): project':>29} {'reference':>16}",
          file=out)
    for network, f in results["train"].items():
        print(f"{network:22} {f['project_steps_per_s']:8.1f}/s {f['reference_steps_per_s']:8.1f}/s"
              f" {f['speedup']:7.2f}x {_spread(f):>20} {f['project_gflops']:20.1f} "
              f"({f['project_gflops'] / ceiling:4.0%}) {f['reference_gflops']:9.1f} "
              f"({f['reference_gflops'] / ceiling:4.0%})", file=out)
    e = results["eval"]
    print(f"\n{'evaluation, conv fc':22} {e['project_images_per_s']:8.0f}/s "
          f"{e['reference_images_per_s']:8.0f}/s {results['eval_speedup']:7.2f}x "
          f"{_spread(e):>20}  images",
          file=out)
    r = results["run"]
    print(f"\ntask.py --tasks id inv, {r['max_steps']} steps, tests every "
          f"{r['test_frequency']}: {r['wall_s']:.1f} s wall = "
          f"{r['train_s']:.1f} training + {r['eval_s']:.1f} evaluation + {r['other_s']:.1f} "
          f"other ({r['overhead_fraction']:.1%}: {r['startup_s']:.1f} startup, "
          f"{r['in_run_other_s']:.1f} in the run); peak RSS {r['peak_rss_mib']:.0f} MiB", file=out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer steps and rounds: a smoke test of the benchmark, not figures")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    results = measure(args.quick)
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
