"""Checkpoints of a run: every variable, the data streams' positions, and where the log stood.

A checkpoint is TensorFlow's checkpoint of the model's variables (random-number
states included: Keras keeps dropout's seed state among them), the optimizer's
and the training streams' (tasks.streams: a batch counter per task), plus
`checkpoint/state.json`: the step, the length of metrics.jsonl at that step, and
the time spent so far. state.json is written last and atomically, so it only ever
names a complete checkpoint; the one before it is kept too, each with its own copy
of its state (`step-N.state.json`), so that a resume whose latest checkpoint cannot
be read goes on from the one before.
"""

import contextlib
import glob
import json
import os
import shutil
import signal
from typing import Callable

import numpy as np
import tensorflow as tf
from absl import logging

from errors import UserError, first_line
from rundir import CHECKPOINT_DIR, STATE_FILE, invalid_state_fields, latest_state, write_json_atomic


class Checkpointer:
    """Saves and restores one run's state under RUN_DIR/checkpoint."""

    def __init__(self, run_dir: str, model: tf.keras.Model, optimizer, streams: list,
                 extra: list[tf.Variable] = ()):
        """`extra`: other variables of the run (EWC's consolidated tasks, learned loss
        weights)."""
        self.directory = os.path.join(run_dir, CHECKPOINT_DIR)
        self._checkpoint = tf.train.Checkpoint(model=list(model.variables),
                                               optimizer=list(optimizer.variables),
                                               data=list(streams), extra=list(extra))
        self.last_step: int | None = None  # The step of the latest checkpoint, if any.
        self._prefix: str | None = None  # Its file prefix, kept at the next save.

    def save(self, state: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
        """Writes a checkpoint at state["step"] (and `arrays` beside it, as .npz), then
        state.json naming it; keeps one older."""
        try:
            os.makedirs(self.directory, exist_ok=True)
            name = f"step-{state['step']}"
            prefix = self._checkpoint.write(os.path.join(self.directory, name))
            if arrays:
                np.savez(os.path.join(self.directory, f"{name}.arrays.npz"), **arrays)
            state = {**state, "prefix": os.path.basename(prefix), "arrays": bool(arrays)}
            write_json_atomic(os.path.join(self.directory, f"{name}.state.json"), state)
            write_json_atomic(os.path.join(self.directory, STATE_FILE), state)
        except (OSError, tf.errors.OpError) as e:
            reason = getattr(e, "strerror", None) or getattr(e, "message", str(e))
            run_dir = os.path.dirname(self.directory)
            kept = (f"the checkpoint at step {self.last_step} is intact: free space or fix "
                    f"permissions, then --resume {run_dir}" if self.last_step is not None else
                    "no checkpoint had been taken: free space or fix permissions, then "
                    f"--restart {run_dir}")
            raise UserError(f"cannot write a checkpoint in {self.directory} ({reason}); "
                            f"{kept}") from None
        self._remove_all_but({os.path.basename(prefix), self._prefix})
        self.last_step, self._prefix = state["step"], os.path.basename(prefix)

    def _remove_all_but(self, keep: set) -> None:
        """Removes every checkpoint file but those of the prefixes in `keep`, with what a
        save killed midway leaves: a sharded save's `PREFIX_temp` folder, a lone file."""
        for path in glob.glob(os.path.join(self.directory, "step-*")):
            if os.path.basename(path).split(".")[0] in keep:
                continue
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)

    def restore(self, apply: Callable[[dict, dict | None], None]) -> dict:
        """Restores the latest checkpoint, or the one before it when the latest cannot be
        read (saying so in a warning): its variables, then `apply(state, arrays)` with its
        state and the arrays saved beside it, which takes in the rest. Only this process's
        memory changes, so a refusal leaves the run as it was. Returns the state restored."""
        run_dir = os.path.dirname(self.directory)
        state = latest_state(run_dir)
        if state is None:
            raise UserError(f"{run_dir} has no checkpoint to resume from (it stopped before "
                            f"its first one); start it afresh with --restart {run_dir}")
        unreadable = []
        for candidate in [state, *self._older_states(state["step"])]:
            prefix = os.path.join(self.directory, candidate["prefix"])
            reason = _unreadable(prefix)
            if reason is None:
                self._read(candidate)
                reason = self._apply(candidate, apply)
            if reason:
                unreadable.append(f"step {candidate['step']}: {reason}")
                continue
            if unreadable:
                logging.warning("the latest checkpoint cannot be read (%s); going on from the "
                                "one before it, at step %d", unreadable[0], candidate["step"])
            self.last_step, self._prefix = candidate["step"], candidate["prefix"]
            return candidate
        raise UserError(f"no checkpoint in {self.directory} can be read ({'; '.join(unreadable)}); "
                        f"start the run afresh with --restart {run_dir}")

    def _read(self, state: dict) -> None:
        """Reads the variables of a checkpoint whose files read; one that does not fit this
        run is refused."""
        try:
            self._checkpoint.read(os.path.join(self.directory, state["prefix"])).assert_consumed()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            raise UserError(f"the checkpoint {state['prefix']} in {self.directory} "
                            f"does not fit this run's model and data streams "
                            f"({first_line(e)}); a checkpoint written by another version "
                            "of this code cannot be resumed: start the run afresh") from None

    def _apply(self, state: dict, apply: Callable[[dict, dict | None], None]) -> str | None:
        """Loads the arrays of `state` and hands both to `apply`; why that failed (a missing
        or cut .npz, a state without a field the schedule keeps), or None."""
        try:
            apply(state, self._arrays(state))
        except Exception as e:  # Whatever a damaged file makes reading raise.
            return f"{type(e).__name__}: {first_line(e)}"
        return None

    def _older_states(self, step: int) -> list[dict]:
        """The states of the kept checkpoints before `step`, the latest first."""
        states = []
        for path in glob.glob(os.path.join(self.directory, "step-*.state.json")):
            try:
                with open(path) as f:
                    state = json.load(f)
            except (OSError, ValueError):
                continue
            if not invalid_state_fields(state) and state["step"] < step:
                states.append(state)
        return sorted(states, key=lambda s: -s["step"])

    def _arrays(self, state: dict) -> dict[str, np.ndarray] | None:
        """The arrays saved with the checkpoint of `state`, if any, each read whole."""
        if not state.get("arrays"):
            return None
        with np.load(os.path.join(self.directory, f"{state['prefix']}.arrays.npz")) as f:
            return {key: f[key] for key in f.files}


def _unreadable(prefix: str) -> str | None:
    """Why a checkpoint's files cannot be read (missing, cut, damaged), or None: every
    value is read once (but variants, a tf.data iterator's state, which only a restore can
    read), so that what fails later is a checkpoint that does not fit."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype != tf.variant:
                reader.get_tensor(name)
    except Exception as e:  # A cut file raises IndexError, say, besides TensorFlow's errors.
        return first_line(e)
    return None


class StopRequests:
    """Turns SIGTERM and SIGINT into a request the training loop honours at its next clean
    point (a checkpoint, then exit); restores the previous handlers when done."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signal: int | None = None
        self._previous = {}

    def __enter__(self):
        for number in self.SIGNALS:
            try:
                self._previous[number] = signal.signal(number, self._request)
            except ValueError:  # Not the main thread (a Ray worker, say): no handlers.
                break
        return self

    def __exit__(self, *exc):
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _request(self, number, frame):
        del frame
        self.signal = number
