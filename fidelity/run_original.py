"""Runs the original TF1 task.py, unchanged but for three documented patches, under TF2.

    python -m fidelity.run_original PATH/TO/original/task.py -- --tasks id inv \
        --task-time 200 --max-steps 800 --log-dir DIR

The original (repository Octavian-ai/multiple-tasks) is not part of this project:
give the path of a copy. It runs under `tensorflow.compat.v1` with v2 behaviour
off, and these things are changed, each checked to apply exactly once:
- `import tensorflow as tf` becomes `tensorflow.compat.v1`;
- `tensorflow.examples.tutorials.mnist.input_data`, gone from TensorFlow 2, is
  `fidelity.tf1_mnist`, which reads the IDX files of `--data-dir` (default here:
  the bundled MNIST) by TF1's rules;
- the dog images are loaded only when `dog` is among `--tasks` (the original
  loaded them always, so it could not run without the dog data);
- two features the blog's experiments need and the published code lacks, neither
  changing a run that does not ask for it: `--fc-units N`, the width of `fc fc`'s
  first layer (the code has 500 written in; the blog's width experiment varied
  it), and a `fashion` task, Fashion-MNIST read from `--data-fashion-dir` as MNIST
  is (all 60,000 training images: no validation split) and placed as this
  project's `fashion` is: in channel 0 under `combined`, channel 1 under
  `channelplex` (MNIST's `with_mnist` is given the data set and its placement).
Without OpenCV or pandas installed, stand-ins that fail when used let MNIST-only
runs start; dog runs need the real packages. The original is unseeded, as it was.
"""

import importlib.util
import os
import sys
import types

import runtime

PATCHES = (
    ("import tensorflow as tf\n",
     "import tensorflow.compat.v1 as tf\ntf.disable_v2_behavior()\n"),
    ("\tdog_train_image, dog_train_label, dog_test_image, dog_test_label = load_dogs()\n",
     "\tif 'dog' in FLAGS.tasks:\n"
     "\t\tdog_train_image, dog_train_label, dog_test_image, dog_test_label = load_dogs()\n"),
    # The two features: their flags, ...
    ("\tparser.add_argument('--pickle-file', type=str, default='images.p')\n",
     "\tparser.add_argument('--pickle-file', type=str, default='images.p')\n"
     "\tparser.add_argument('--data-fashion-dir', type=str, default=None)\n"
     "\tparser.add_argument('--fc-units', type=int, default=500)\n"),
    # ... fc fc's width, ...
    ("hidden1 = nn_layer(x, s1, 500, 'layer1')",
     "hidden1 = nn_layer(x, s1, FLAGS.fc_units, 'layer1')"),
    ("y = nn_layer(hidden1, [500], 10, 'layer2', act=tf.identity)",
     "y = nn_layer(hidden1, [FLAGS.fc_units], 10, 'layer2', act=tf.identity)"),
    # ... and Fashion-MNIST, read only for the fashion task, placed as this project places it.
    ("\t\tfake_data=FLAGS.fake_data)\n",
     "\t\tfake_data=FLAGS.fake_data)\n"
     "\tfashion = input_data.read_data_sets(FLAGS.data_fashion_dir, one_hot=True, "
     "validation_size=0) if 'fashion' in FLAGS.tasks else None\n"),
    ("\t\t\t\t\"dog\": lambda x: x\n",
     "\t\t\t\t\"dog\": lambda x: x,\n"
     "\t\t\t\t\"fashion\": lambda x: np.concatenate((x,zero,zero), axis=-1)\n"),
    ("\t\t\t\t\"dog\":   lambda x: np.concatenate((zero, x), axis=-1)\n",
     "\t\t\t\t\"dog\":   lambda x: np.concatenate((zero, x), axis=-1),\n"
     "\t\t\t\t\"fashion\": lambda x: np.concatenate((zero, x, zero, zero), axis=-1)\n"),
    ("\tdef with_mnist(fn):\n", "\tdef with_mnist(fn, mnist=mnist, source=\"mnist\"):\n"),
    ("\t\t\treturn combine_tasks(\"mnist\", reshaped)\n",
     "\t\t\treturn combine_tasks(source, reshaped)\n"),
    ("\t\t\"dog\": \t\tdog\n",
     "\t\t\"dog\": \t\tdog,\n"
     "\t\t\"fashion\": with_mnist(identity, fashion, \"fashion\")\n"),
)


def patched_source(path: str) -> str:
    """The original's source with PATCHES applied; an error if it is not the file they fit."""
    with open(path) as f:
        source = f.read()
    for old, new in PATCHES:
        if source.count(old) != 1:
            raise SystemExit(f"run_original: {path} is not the original task.py these patches "
                             f"fit (looked for {old.strip()!r} once); give a copy of "
                             "Octavian-ai/multiple-tasks' task.py")
        source = source.replace(old, new)
    return source


def _install_modules() -> None:
    from fidelity import tf1_mnist

    names = ["tensorflow.examples", "tensorflow.examples.tutorials",
             "tensorflow.examples.tutorials.mnist"]
    for name in names:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules[names[-1]].input_data = tf1_mnist
    for missing in ("cv2", "pandas"):
        if importlib.util.find_spec(missing) is None:
            sys.modules[missing] = types.ModuleType(missing)  # Fails on first use: dogs only.


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not os.path.isfile(argv[1]):
        raise SystemExit(__doc__)
    args = [a for a in argv[2:] if a != "--"]
    if "--data-dir" not in args:
        from data.mnist_loader import BUNDLED_MNIST_DIR

        args += ["--data-dir", BUNDLED_MNIST_DIR]
    runtime.prepare_process()
    runtime.import_tensorflow()  # Without its start-up lines.
    source = patched_source(argv[1])
    _install_modules()
    sys.argv = [argv[1]] + args
    exec(compile(source, argv[1], "exec"), {"__name__": "__main__", "__file__": argv[1]})


if __name__ == "__main__":
    main(sys.argv)
