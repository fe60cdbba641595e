#!/usr/bin/env bash
# Launches a run, or a named experiment, on a GPU host.
#
#   ./floyd-run.sh [--dry-run] [-- TASK_PY_ARGS...]
#   ./floyd-run.sh [--dry-run] --experiment NAME [-- EXPERIMENT_ARGS...]
#
# Where it runs, by what is available:
#   1. `floyd` on PATH: `floyd run` as the original did (GPU, TensorBoard, the dog
#      data mounted at /data-dog, logs to /output). FLOYD_DOG_DATA names the data set
#      (default: the original's), FLOYD_ENV the environment.
#   2. otherwise, RAY_ADDRESS set: `ray job submit` to that Ray cluster (a run asks
#      for one GPU; an experiment spreads its runs over the cluster with --ray-address auto).
#   3. otherwise: here, on the local GPU.
# DOG_DIR gives the dog data's folder for 2 and 3 (on the cluster, for 2).
# Without arguments after --, the run is the blog's headline one:
#   --tasks id dog --task-time 2000 --max-steps 30000 --input-style combined
# --dry-run prints the command instead of running it.
set -euo pipefail
cd "$(dirname "$0")"

dry_run=0
experiment=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) dry_run=1; shift ;;
    --experiment) experiment="${2:?--experiment needs a name (python -m experiments list)}"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "floyd-run.sh: unknown option $1; put task.py's arguments after --" >&2; exit 2 ;;
  esac
done
args=("$@")
if [[ -z "$experiment" && ${#args[@]} -eq 0 ]]; then
  args=(--tasks id dog --task-time 2000 --max-steps 30000 --input-style combined)
fi

python_bin=python3
[[ -x .venv/bin/python ]] && python_bin=.venv/bin/python

# Sets cmd to the command for the GPU host, given where logs and dog data live there.
job() {  # job PYTHON LOG_DIR DOG_DIR [EXPERIMENT_EXTRA...]
  local python="$1" log_dir="$2" dog_dir="$3"; shift 3
  local dog=()
  [[ -n "$dog_dir" ]] && dog=(--data-dog-dir "$dog_dir")
  if [[ -n "$experiment" ]]; then
    cmd=("$python" -m experiments run "$experiment" --log-dir "$log_dir" "${dog[@]}" --gpu "$@"
         "${args[@]}")
  else
    cmd=("$python" task.py --log-dir "$log_dir" "${dog[@]}" --gpu "${args[@]}")
  fi
}

run() {
  if [[ $dry_run -eq 1 ]]; then
    printf '%q ' "$@"; echo
  else
    "$@"
  fi
}

if command -v floyd >/dev/null 2>&1; then
  job .venv/bin/python /output /data-dog
  setup="pip install -q pipenv && PIPENV_VENV_IN_PROJECT=1 pipenv sync"
  run floyd run --tensorboard --gpu --env "${FLOYD_ENV:-tensorflow-2.x}" \
    --data "${FLOYD_DOG_DATA:-davidmack/datasets/dogbreeds/1}:/data-dog" \
    "$setup && $(printf '%q ' "${cmd[@]}")"
elif [[ -n "${RAY_ADDRESS:-}" ]]; then
  if [[ -n "$experiment" ]]; then
    job python log "${DOG_DIR:-}" --ray-address auto
    resources=()
  else
    job python log "${DOG_DIR:-}"
    resources=(--entrypoint-num-gpus 1)
  fi
  run ray job submit --address "$RAY_ADDRESS" --working-dir . \
    --runtime-env-json '{"excludes": [".venv", ".git", "log", "runs"]}' \
    "${resources[@]}" -- "${cmd[@]}"
else
  job "$python_bin" log "${DOG_DIR:-}"
  run "${cmd[@]}"
fi
