#!/bin/sh
# The GPU figures, for a person with a GPU: run from the repository root, on a machine
# where TensorFlow sees a GPU (the GPU build: pip install 'tensorflow[and-cuda]' into
# .venv). Writes gpu-benchmark.json and gpu-benchmark.txt (the benchmark's table, with
# the device it ran on) and gpu-run.json (a two-task task.py run's summary), then prints
# both; send the three files with the machine's GPU, driver and CUDA versions.
set -eu
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" -c "import tensorflow as tf, sys; sys.exit(0 if tf.config.list_physical_devices('GPU') else 'TensorFlow sees no GPU here')"
"$PYTHON" -m benchmarks --gpu --json gpu-benchmark.json | tee gpu-benchmark.txt
log=$(mktemp -d)
"$PYTHON" task.py --gpu --tasks id inv --task-time 2000 --max-steps 4000 --log-dir "$log" \
    --run-name gpu
cp "$log/gpu/summary.json" gpu-run.json
"$PYTHON" -c "import json; s = json.load(open('gpu-run.json')); print('task.py --gpu, 4000 steps: ' + ', '.join(f'{k} {s[k]:.1f}' for k in ('wall_time_s', 'train_time_s', 'eval_time_s', 'steps_per_second')))"
rm -rf "$log"
