"""Runs the original TF1 task.py, unchanged but for three documented patches, under TF2.

    python -m fidelity.run_original PATH/TO/original/task.py -- --tasks id inv \
        --task-time 200 --max-steps 800 --log-dir DIR

The original (repository Octavian-ai/multiple-tasks) is not part of this project:
give the path of a copy. It runs under `tensorflow.compat.v1` with v2 behaviour
off, and three things are changed, each checked to apply exactly once:
- `import tensorflow as tf` becomes `tensorflow.compat.v1`;
- `tensorflow.examples.tutorials.mnist.input_data`, gone from TensorFlow 2, is
  `fidelity.tf1_mnist`, which reads the IDX files of `--data-dir` (default here:
  the bundled MNIST) by TF1's rules;
- the dog images are loaded only when `dog` is among `--tasks` (the original
  loaded them always, so it could not run without the dog data).
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
