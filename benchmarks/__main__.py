"""Measures the project's training and evaluation against a plain Keras reference, side by side.

The reference is the same network with models.builder's plain kernels (Keras's own
layers, every input channel), Keras's SGD and tf.data batches: how one would write
it without this project.

    python -m benchmarks [--quick] [--json FILE] [--gpu]

Training steps per second at batch 100 for `conv fc`, `conv conv fc` and `fc fc`, and
for the ten-task paper's network (`shapes-paper` with the task signal, batch 64, Adam,
on the `cpu` scenes of the ten colour tasks); evaluation images per second; each
training step's achieved GFLOP/s against the machine's rate, TensorFlow's own float32
matrix product (numpy's beside it); for `conv fc`, the bytes a step must move through
memory and TensorFlow's streaming rate, so that its distance from the machine's
limits is a number; a whole two-task task.py run and a whole
replication of the ten-task study, each split into training, evaluation and
everything else, the first with its peak resident memory. Project and reference
alternate in paired rounds, back to back, so that a noisy machine affects both alike:
each side's rate is the median of its rounds, and each speedup the median of the
rounds' ratios (with their quartiles). Progress goes to stderr as it runs. With --gpu
it measures on the GPU, the project's side with the kernels a run takes there
(training.config.kernels_for), and says which device it measured on.
"""

import runtime

runtime.prepare_process()  # Before TensorFlow is first imported.
runtime.import_tensorflow()  # Without its start-up lines.

import argparse  # noqa: E402
import os  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from errors import UserError  # noqa: E402
from models.spec import layer_shapes  # noqa: E402

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETWORKS = (("conv", "fc"), ("conv", "conv", "fc"), ("fc", "fc"))
BATCH = 100
WINDOW = 10  # Steps per compiled call in the project's runner (train_summary_frequency).
TEST_FREQUENCY = 100  # The whole run's, as the study's (and the tool's default).


STARTED = time.perf_counter()


def progress(message: str) -> None:
    """One line on stderr, with the time since the benchmark started."""
    elapsed = int(time.perf_counter() - STARTED)
    print(f"[{elapsed // 60}:{elapsed % 60:02d}] {message}", file=sys.stderr, flush=True)


def _calls_per_second(call, seconds: float, finish=lambda result: None) -> float:
    """How many times a second `call` runs (at least 3 calls and `seconds`, after one
    untimed call); `finish` waits for the last call's result before the clock stops."""
    call()
    count, start = 0, time.perf_counter()
    while count < 3 or time.perf_counter() - start < seconds:
        result = call()
        count += 1
    finish(result)
    return count / (time.perf_counter() - start)


def matmul_gflops(size: int, seconds: float) -> float:
    """numpy's float32 matrix-multiply rate (its BLAS's)."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    b = np.random.default_rng(1).random((size, size), dtype=np.float32)
    return 2 * size ** 3 * _calls_per_second(lambda: a @ b, seconds) / 1e9


def tf_matmul_gflops(size: int, seconds: float) -> float:
    """TensorFlow's own float32 matrix-multiply rate on this machine's cores: the ceiling the
    training steps are measured against (numpy's BLAS may be held to an older kernel)."""
    import tensorflow as tf

    a = tf.random.stateless_uniform((size, size), (0, 0))
    b = tf.random.stateless_uniform((size, size), (0, 1))
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)[0, :1]))
    return 2 * size ** 3 * _calls_per_second(lambda: product().numpy(), seconds) / 1e9


def tf_bandwidth_gbs(megabytes: int, seconds: float) -> float:
    """TensorFlow's rate of streaming float32 memory on this machine's cores (GB/s): an
    element-wise scale of an array far larger than the caches, each call reading it once
    and writing a new one."""
    import tensorflow as tf

    values = tf.random.stateless_uniform((megabytes * 2 ** 20 // 4,), (0, 2))
    scale = tf.function(lambda: values * 1.5)
    calls = _calls_per_second(scale, seconds, finish=lambda scaled: scaled[:1].numpy())
    return 2 * values.shape[0] * 4 * calls / 1e9


def conv_fc_step_bytes(batch: int = 100, channels: int = 1, filters: int = 64,
                       classes: int = 10) -> dict:
    """The bytes a `conv fc` training step must move through memory however its kernels are
    written (float32; `channels` the input channels it computes with), by tensor:
      block    the conv block's pooled output, LRN's and dropout's ([batch, 14, 14,
               filters] each): each written once forward and read by the next layer, its
               gradient written once backward and read once; LRN's backward reads its
               input again, and the fc layer's weight gradient reads its input again
               (5 + 4 + 5 = 14 passes of one such tensor)
      images   read forward and again for the filter's gradient
      weights  read forward and backward, their gradients written, then read and
               written by the update (5 passes)
    The conv layer's own output before its pool ([batch, 28, 28, filters]) is left out:
    a kernel that pools as it convolves need not store it, though every kernel here
    does."""
    conv, fc = layer_shapes(("conv", "fc"), input_shape=(28, 28, channels),
                            conv_filters=filters, num_classes=classes)
    block = batch * math.prod(conv.outputs) * 4
    parts = {"block": 14 * block, "images": 2 * batch * math.prod(conv.inputs) * 4,
             "weights": 5 * (conv.parameters + fc.parameters) * 4}
    return {**parts, "total": sum(parts.values())}


def training_flops(network, input_shape=(28, 28, 3), **options) -> int:
    """Floating-point operations of one training step on one image: 3x the forward pass's
    multiply-adds of the conv and dense layers (models.spec.layer_shapes, with its options),
    the usual count (backward is twice forward)."""
    return 3 * 2 * sum(layer.multiply_adds
                       for layer in layer_shapes(network, input_shape=input_shape, **options))


def project_kernels() -> str:
    """The kernels the project's side uses: a run's own choice for the device TensorFlow
    computes on (training.config.kernels_for: the fast kernels on a CPU, Keras's on a GPU)."""
    import tensorflow as tf

    from training.config import kernels_for

    return kernels_for(bool(tf.config.get_visible_devices("GPU")))


def device_name(gpu: bool) -> str:
    """What the figures were measured on: the GPU(s) TensorFlow computes on, or the CPU."""
    import tensorflow as tf

    if gpu:
        return ", ".join(tf.config.experimental.get_device_details(device).get(
            "device_name", device.name) for device in tf.config.get_visible_devices("GPU"))
    return f"CPU, {runtime.usable_cpus()} cores"


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


def keras_step(model, optimizer):
    """The plain Keras training step of `model`: one compiled call a batch."""
    import tensorflow as tf

    @tf.function
    def step(inputs, labels):
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss
    return step


class Sides:
    """A pair's two sides: the project's `model` and `optimizer` on its training stream
    `batches`, WINDOW steps a compiled call, and the reference's `reference_step` on
    `reference_batches`, a call a step."""

    def before_window(self) -> None:
        """What the project's stream needs before each window of steps."""

    def project_rate(self, steps: int) -> float:
        from training.steps import train_steps

        count = self.tf.constant(WINDOW)
        start = time.perf_counter()
        for _ in range(steps // WINDOW):
            self.before_window()
            losses, _ = train_steps(self.model, self.optimizer, self.batches, count)
        losses.numpy()
        return steps // WINDOW * WINDOW / (time.perf_counter() - start)

    def reference_rate(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            loss = self.reference_step(*next(self.reference_batches))
        loss.numpy()
        return steps / (time.perf_counter() - start)


class Pair(Sides):
    """The project's model and step beside the reference's, for one network."""

    def __init__(self, network, task, float_images, labels):
        import tensorflow as tf

        from models import build_model
        from tasks.streams import TaskStream
        from training.steps import make_optimizer

        self.tf, self.network = tf, network
        kernels = project_kernels()
        self.model = build_model(network, input_shape=(28, 28, 3), carried=task.carried,
                                 kernels=kernels)
        self.reference = plain_copy(self.model, network)
        self.optimizer = make_optimizer("sgd", 0.01, fused=kernels == "fast")
        self.optimizer.build(self.model.trainable_variables)
        self.reference_optimizer = tf.keras.optimizers.SGD(0.01)
        self.batches = TaskStream(task, BATCH)
        dataset = (tf.data.Dataset.from_tensor_slices((float_images, labels))
                   .shuffle(len(labels), seed=0).repeat().batch(BATCH)
                   .prefetch(tf.data.AUTOTUNE))
        self.reference_batches = iter(dataset)
        self.reference_step = keras_step(self.reference, self.reference_optimizer)


def paired_rounds(project, reference, min_rounds: int, seconds: float, label: str = ""):
    """Alternates project() and reference() (each returns a rate) for at least `min_rounds`
    rounds and until `seconds` have passed; the medians of each side's rates and of
    the per-round ratios, with the ratios' quartiles. A round's two figures are
    measured back to back, so the machine's drift (its speed varies by a fifth or
    more here) affects both alike, and the median ratio is steadier than a ratio of
    medians."""
    rates, start = [], time.perf_counter()
    while len(rates) < min_rounds or time.perf_counter() - start < seconds:
        rates.append((project(), reference()))
        if label:
            progress(f"{label}: round {len(rates)}, {rates[-1][0] / rates[-1][1]:.2f}x")
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
    return pair_figures(Pair(network, task, float_images, labels), min_rounds, seconds,
                        f"training {' '.join(network)}")


def pair_figures(pair, min_rounds: int, seconds: float, label: str) -> dict:
    """train_figures' paired rounds of a pair (project_rate and reference_rate)."""
    pair.project_rate(2 * WINDOW)  # Traces and warms up.
    pair.reference_rate(2 * WINDOW)
    steps = WINDOW * max(1, round(0.25 * pair.project_rate(2 * WINDOW) / WINDOW))
    rounds = paired_rounds(lambda: pair.project_rate(steps), lambda: pair.reference_rate(steps),
                           min_rounds, seconds, label)
    return {"project_steps_per_s": rounds["project"], "reference_steps_per_s": rounds["reference"],
            "speedup": rounds["speedup"], "speedup_quartiles": rounds["speedup_quartiles"],
            "rounds": rounds["rounds"], "steps_per_round": steps}


def eval_figures(task, float_images, labels, min_rounds: int, seconds: float) -> dict:
    """Images per second evaluating `conv fc` on the task's test set: the project's evaluate
    against Keras's model.evaluate on float32 batches of the same size."""
    import tensorflow as tf

    from models import build_model
    from training.steps import EVAL_BATCH, evaluate

    model = build_model(("conv", "fc"), input_shape=(28, 28, 3), carried=task.carried,
                        kernels=project_kernels())
    reference = plain_copy(model, ("conv", "fc"))
    reference.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    dataset = tf.data.Dataset.from_tensor_slices((float_images, labels)).batch(EVAL_BATCH)
    count = len(labels)

    return eval_rounds(lambda: evaluate(model, [task]),
                       lambda: reference.evaluate(dataset, verbose=0), count, min_rounds,
                       seconds, "evaluation conv fc")


def eval_rounds(project, plain, count: int, min_rounds: int, seconds: float,
                label: str) -> dict:
    """Images per second of two evaluations of `count` images each (`project()` and
    `plain()`), traced first, then in paired rounds."""
    def rate(evaluation):
        def measured():
            start = time.perf_counter()
            evaluation()
            return count / (time.perf_counter() - start)
        return measured

    project, plain = rate(project), rate(plain)
    project(), plain()  # Traces.
    rounds = paired_rounds(project, plain, min_rounds, seconds, label)
    return {"project_images_per_s": rounds["project"],
            "reference_images_per_s": rounds["reference"], "speedup": rounds["speedup"],
            "speedup_quartiles": rounds["speedup_quartiles"], "rounds": rounds["rounds"],
            "images": count}


def whole_run(max_steps: int, gpu: bool = False) -> dict:
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
                        str(TEST_FREQUENCY), "--log-dir", log_dir, "--run-name", "run",
                        *(["--gpu"] if gpu else [])],
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


PAPER_BATCH = 64
PAPER_SCENES = dict(height=48, width=48, train=10000, test=1000)  # The cpu form's.
PAPER_FLAGS = ["--schedule", "episodes", "--network", "shapes-paper", "--init", "he",
               "--task-signal", "--task-signal-scale", "10", "--optimizer", "adam",
               "--learning-rate", "0.001", "--batch", str(PAPER_BATCH), "--max-epochs", "20"]


def paper_tasks(quick: bool) -> list[str]:
    from data.shapes import FEATURES

    return [f"shapes-colour-{colour}" for colour in FEATURES["colour"][:2 if quick else 10]]


class PaperPair(Sides):
    """The ten-task paper's network and step beside a plain Keras reference: the same
    network (Keras's own layers) with the project's initial weights, Keras's Adam, and
    tf.data batches of (images, task signal) drawn from the same epoch's examples.

    The project's step is the run's: an epoch of the last episode's mix (every task,
    half of it the newest) drawn inside the compiled loop (tasks.streams.MixStream),
    WINDOW steps a call."""

    def __init__(self, tasks):
        import tensorflow as tf

        from models import build_model
        from tasks.streams import MixStream
        from training.episodes import epoch_mix
        from training.steps import make_optimizer

        self.tf = tf
        options = dict(input_shape=(*tasks[0].image_shape, 3), num_classes=2, init="he",
                       task_signal=len(tasks), carried=tasks[0].carried)
        self.model = build_model(("shapes-paper",), **options, kernels=project_kernels())
        self.reference = build_model(("shapes-paper",), **{**options, "carried": None},
                                     kernels="plain")
        self.reference.set_weights(self.model.get_weights())
        self.optimizer = make_optimizer("adam", 0.001)
        self.optimizer.build(self.model.trainable_variables)
        self.reference_optimizer = tf.keras.optimizers.Adam(0.001)
        labels = [task.train.label_array() for task in tasks]
        task_ids, example_ids = epoch_mix(labels, len(tasks), len(tasks[0].train), 2,
                                          np.random.default_rng(0))
        self.mix = task_ids, example_ids
        self.batches = MixStream(tasks, PAPER_BATCH)
        self.epoch_steps = len(task_ids) // PAPER_BATCH
        if self.epoch_steps < WINDOW:
            raise ValueError(f"an epoch of {len(task_ids)} examples is under {WINDOW} batches")
        self.position = self.epoch_steps  # Batches of the mix used: none yet, `use` first.
        images = tf.gather(tasks[0].train.images, example_ids)  # uint8: the tasks share them.
        targets = np.array([labels[t][e] for t, e in zip(task_ids, example_ids)], np.int32)
        signal = tf.one_hot(task_ids, len(tasks)) * tasks[0].signal_scale
        dataset = (tf.data.Dataset.from_tensor_slices(((images, signal), targets))
                   .shuffle(len(targets), seed=0).repeat().batch(PAPER_BATCH)
                   .map(lambda inputs, y: ((tf.cast(inputs[0], tf.float32) / 255.0, inputs[1]),
                                           y), num_parallel_calls=tf.data.AUTOTUNE)
                   .prefetch(tf.data.AUTOTUNE))
        self.reference_batches = iter(dataset)
        self.reference_step = keras_step(self.reference, self.reference_optimizer)

    def before_window(self) -> None:
        if self.position + WINDOW > self.epoch_steps:  # The epoch's batches again.
            self.batches.use(*self.mix, seed=0)
            self.position = 0
        self.position += WINDOW


def paper_train_figures(tasks, min_rounds: int, seconds: float) -> dict:
    """As train_figures, for the paper's network (PaperPair)."""
    return pair_figures(PaperPair(tasks), min_rounds, seconds, "training shapes-paper")


def paper_eval_figures(tasks, min_rounds: int, seconds: float) -> dict:
    """Images per second evaluating the paper's network on every task's held-out set: the
    project's evaluate (the tasks' shared scenes through the convs once) against Keras's
    model.evaluate on each task's (images, signal) batches in turn."""
    import tensorflow as tf

    from models import build_model
    from training.steps import EVAL_BATCH, evaluate

    options = dict(input_shape=(*tasks[0].image_shape, 3), num_classes=2, init="he",
                   task_signal=len(tasks))
    model = build_model(("shapes-paper",), **options, carried=tasks[0].carried,
                        kernels=project_kernels())
    reference = build_model(("shapes-paper",), **options, kernels="plain")
    reference.set_weights(model.get_weights())
    reference.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    datasets = []
    for task in tasks:
        rows = task.test_rows()
        images = tf.gather(task.test.images, rows)
        signal = tf.one_hot([task.index] * len(rows), len(tasks)) * task.signal_scale
        labels = tf.gather(task.test.labels, rows)
        datasets.append(tf.data.Dataset.from_tensor_slices(((images, signal), labels))
                        .batch(EVAL_BATCH)
                        .map(lambda inputs, y: ((tf.cast(inputs[0], tf.float32) / 255.0,
                                                 inputs[1]), y)))
    count = sum(task.test_size() for task in tasks)

    return eval_rounds(lambda: evaluate(model, tasks),
                       lambda: [reference.evaluate(dataset, verbose=0) for dataset in datasets],
                       count, min_rounds, seconds, "evaluation shapes-paper")


def paper_flops(image_shape=(48, 48), tasks: int = 10) -> int:
    """training_flops of shapes-paper with its task signal, on colour images."""
    return training_flops(("shapes-paper",), (*image_shape, 3), num_classes=2,
                          task_signal=tasks)


def whole_replication(quick: bool, gpu: bool = False) -> dict:
    """One replication of the ten-task study at the `cpu` size (the command of
    docs/ten-task-study.md: ten colour tasks in criterion episodes), in a child process, its
    wall time split as whole_run's. Quick: two tasks, one epoch an episode, on 1,000 scenes."""
    tasks = paper_tasks(quick)
    extra = (["--max-epochs", "1", "--shapes-train", "1000", "--shapes-test", "200"]
             if quick else [])
    with tempfile.TemporaryDirectory() as log_dir:
        start = time.perf_counter()
        subprocess.run([sys.executable, "task.py", *PAPER_FLAGS, *extra, "--tasks", *tasks,
                        "--log-dir", log_dir, "--run-name", "run",
                        *(["--gpu"] if gpu else [])],
                       cwd=REPO_DIR, check=True, capture_output=True)
        wall = time.perf_counter() - start
        with open(os.path.join(log_dir, "run", "summary.json")) as f:
            summary = json.load(f)
    train, evaluation = summary["train_time_s"], summary["eval_time_s"]
    return {"tasks": len(tasks), "steps": summary["steps"], "wall_s": wall, "train_s": train,
            "eval_s": evaluation, "other_s": wall - train - evaluation,
            "train_steps_per_s": summary["steps"] / train}


def measure(quick: bool, gpu: bool = False) -> dict:
    # The whole run goes first: a child's peak RSS counts what it shares with its parent
    # between fork and exec, so the parent must still be small.
    # 4,000 steps: long enough that the fixed start-up (importing TensorFlow is most of
    # it) weighs as in a real run, which is longer still (the blog's: 30,000 steps).
    import tensorflow as tf

    from training.runner import configure_devices

    configure_devices(gpu)  # The GPU with --gpu (an error if there is none), else the CPU.
    device = device_name(gpu)
    progress(f"on {device}, the project's kernels {project_kernels()}; a whole two-task run "
             "(task.py --tasks id inv)")
    run = whole_run(200 if quick else 4000, gpu)
    progress(f"a whole run: {run['wall_s']:.1f} s; a whole ten-task replication")
    replication = whole_replication(quick, gpu)
    progress(f"a whole replication: {replication['wall_s']:.1f} s")

    from data import load_mnist
    from tasks import build_tasks

    tf.get_logger().setLevel("WARNING")
    # Paired rounds: at least this many, and for at least this many seconds a network.
    min_rounds, seconds = (2, 0.0) if quick else (9, 30.0)
    mnist = load_mnist("idx", None, None)
    every_channel = project_kernels() == "plain"  # Keras's layers take every input channel.
    [train_task] = build_tasks(["id"], sources={"mnist": mnist}, input_style="combined", seed=0,
                               all_channels=every_channel)
    float_train = np.pad(mnist.train_images[..., None] / np.float32(255), [(0, 0)] * 3 + [(0, 2)])
    float_test = np.pad(mnist.test_images[..., None] / np.float32(255), [(0, 0)] * 3 + [(0, 2)])
    progress("the machine's float32 matrix-multiply rate, TensorFlow's and numpy's")
    size, ceiling_seconds = (512, 1.0) if quick else (2048, 3.0)
    ceiling = tf_matmul_gflops(size, ceiling_seconds)
    bandwidth = tf_bandwidth_gbs(64 if quick else 512, ceiling_seconds)
    results = {"machine": {"cpus": os.cpu_count(), "device": device,
                           "kernels": project_kernels(), "tf_matmul_gflops": ceiling,
                           "tf_bandwidth_gbs": bandwidth,
                           "numpy_matmul_gflops": matmul_gflops(size, ceiling_seconds),
                           "matmul_size": size, "tensorflow": tf.__version__}, "train": {}}
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
        if network == ("conv", "fc"):  # How far from the machine's limits.
            step_bytes = conv_fc_step_bytes(BATCH, carried)
            figures.update(step_bytes=step_bytes,
                           bandwidth_limit_steps_per_s=bandwidth * 1e9 / step_bytes["total"],
                           flops_limit_steps_per_s=ceiling * 1e9 / project_flops)
        results["train"][" ".join(network)] = figures
    from data import load_shapes

    scenes = dict(PAPER_SCENES, train=1000, test=200) if quick else PAPER_SCENES
    shapes = load_shapes(**scenes, seed=0)
    paper = build_tasks(paper_tasks(False), sources={"shapes": shapes}, input_style="combined",
                        seed=0, task_signal=True, signal_scale=10.0, all_channels=every_channel)
    figures = paper_train_figures(paper, min_rounds, seconds)
    flops = paper_flops(paper[0].image_shape, len(paper)) * PAPER_BATCH
    figures.update(project_gflops=flops * figures["project_steps_per_s"] / 1e9,
                   reference_gflops=flops * figures["reference_steps_per_s"] / 1e9)
    results["train"]["shapes-paper"] = figures
    results["eval_paper"] = paper_eval_figures(paper, min_rounds, seconds)
    results["eval"] = eval_figures(train_task, float_test, mnist.test_labels.astype(np.int32),
                                   min_rounds, seconds)
    results["run"] = run
    results["replication"] = replication
    results.update(
        train_speedup_conv_fc=results["train"]["conv fc"]["speedup"],
        train_speedup_fc_fc=results["train"]["fc fc"]["speedup"],
        train_speedup_shapes_paper=results["train"]["shapes-paper"]["speedup"],
        eval_speedup_shapes_paper=results["eval_paper"]["speedup"],
        ceiling_gflops_tf=ceiling,
        ceiling_gflops_numpy=results["machine"]["numpy_matmul_gflops"],
        memory_bandwidth_gbs=bandwidth,
        conv_fc_share_of_limit=results["train"]["conv fc"]["project_steps_per_s"] / min(
            results["train"]["conv fc"]["bandwidth_limit_steps_per_s"],
            results["train"]["conv fc"]["flops_limit_steps_per_s"]),
        replication_s=replication["wall_s"],
        eval_speedup=results["eval"]["speedup"],
        overhead_fraction=results["run"]["overhead_fraction"],
        peak_rss_mib=results["run"]["peak_rss_mib"])
    return results


def _spread(figures: dict) -> str:
    low, high = figures["speedup_quartiles"]
    return f"({low:.2f}-{high:.2f}, {figures['rounds']})"


def print_table(results: dict, out=None) -> None:
    out = out or sys.stdout
    machine = results["machine"]
    size = machine["matmul_size"]
    print(f"{machine.get('device', str(machine['cpus']) + ' CPUs')}, the project's kernels "
          f"{machine.get('kernels', 'fast')}, TensorFlow {machine['tensorflow']}; float32 matmul "
          f"{size}x{size}: TensorFlow {machine['tf_matmul_gflops']:.1f} GFLOP/s (the ceiling "
          f"below), numpy {machine['numpy_matmul_gflops']:.1f}; streaming memory "
          f"{machine['tf_bandwidth_gbs']:.1f} GB/s", file=out)
    ceiling = machine["tf_matmul_gflops"]
    print(f"\n{'training':22} {'project':>10} {'reference':>10} {'speedup':>8} "
          f"{'(quartiles, rounds)':>20} {'GFLOP/s (of matmul): project':>29} {'reference':>16}",
          file=out)
    for network, f in results["train"].items():
        batch = PAPER_BATCH if network == "shapes-paper" else BATCH
        print(f"{network + f', batch {batch}':22} {f['project_steps_per_s']:8.1f}/s {f['reference_steps_per_s']:8.1f}/s"
              f" {f['speedup']:7.2f}x {_spread(f):>20} {f['project_gflops']:20.1f} "
              f"({f['project_gflops'] / ceiling:4.0%}) {f['reference_gflops']:9.1f} "
              f"({f['reference_gflops'] / ceiling:4.0%})", file=out)
    f = results["train"]["conv fc"]
    limit = min(f["bandwidth_limit_steps_per_s"], f["flops_limit_steps_per_s"])
    print(f"conv fc's limits on this machine: {f['step_bytes']['total'] / 1e6:.1f} MB a step "
          f"that no kernel can avoid moving, at most {f['bandwidth_limit_steps_per_s']:.0f} "
          f"steps/s at {machine['tf_bandwidth_gbs']:.1f} GB/s; its multiply-adds at the matmul "
          f"rate, at most {f['flops_limit_steps_per_s']:.0f} steps/s; the project's "
          f"{f['project_steps_per_s']:.1f} steps/s is {f['project_steps_per_s'] / limit:.0%} of "
          f"the nearer limit", file=out)
    e = results["eval"]
    print(f"\n{'evaluation, conv fc':22} {e['project_images_per_s']:8.0f}/s "
          f"{e['reference_images_per_s']:8.0f}/s {results['eval_speedup']:7.2f}x "
          f"{_spread(e):>20}  images",
          file=out)
    e = results["eval_paper"]
    print(f"{'evaluation, paper':22} {e['project_images_per_s']:8.0f}/s "
          f"{e['reference_images_per_s']:8.0f}/s {e['speedup']:7.2f}x "
          f"{_spread(e):>20}  images (every task's held-out set, {e['images']:,} images)",
          file=out)
    r = results["run"]
    print(f"\ntask.py --tasks id inv, {r['max_steps']} steps, tests every "
          f"{r['test_frequency']}: {r['wall_s']:.1f} s wall = "
          f"{r['train_s']:.1f} training + {r['eval_s']:.1f} evaluation + {r['other_s']:.1f} "
          f"other ({r['overhead_fraction']:.1%}: {r['startup_s']:.1f} startup, "
          f"{r['in_run_other_s']:.1f} in the run); peak RSS {r['peak_rss_mib']:.0f} MiB", file=out)
    r = results["replication"]
    print(f"one ten-task replication (cpu size, {r['tasks']} colour tasks, {r['steps']} steps): "
          f"{r['wall_s']:.1f} s wall = {r['train_s']:.1f} training "
          f"({r['train_steps_per_s']:.1f} steps/s) + {r['eval_s']:.1f} evaluation + "
          f"{r['other_s']:.1f} other", file=out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="python -m benchmarks",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer steps and rounds: a smoke test of the benchmark, not figures")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--gpu", action="store_true",
                        help="measure on the GPU (an error if TensorFlow sees none), the "
                             "project's side with the kernels a run takes there; else the CPU")
    args = parser.parse_args(argv)
    try:
        results = measure(args.quick, args.gpu)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    progress("done")
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
