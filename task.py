"""Trains one network on a sequence of tasks, switching task every --task-time steps.

    python task.py --tasks id inv --task-time 500 --max-steps 3000

or, as the ten-task paper, one criterion episode per task with replay:

    python task.py --schedule episodes --network shapes-paper --task-signal \
        --tasks shapes-colour-red shapes-colour-blue shapes-colour-green

Each run writes a directory under --log-dir (config.json, metrics.jsonl,
summary.json and TensorBoard events) and prints its path at the end. The flags are
RunConfig's fields (training/config.py); docs/flags.md lists them, docs/tasks-and-data.md
the tasks.
"""

import signal
import sys

import runtime

runtime.prepare_process()  # Before TensorFlow is first imported.

from absl import app  # noqa: E402

from errors import RunInterrupted, UserError  # noqa: E402
from training.flags import config_from_args, parse_flags, settings_given  # noqa: E402


def import_tensorflow() -> None:
    """TensorFlow, loaded once the flags are read (so --help and a bad flag answer at once),
    without its start-up lines (TF_CPP_MIN_LOG_LEVEL=0 shows them); a stop signal meanwhile
    is held until it has loaded, then said."""
    try:
        runtime.import_tensorflow(held=(signal.SIGINT, signal.SIGTERM))
    except KeyboardInterrupt as e:
        number = getattr(e, "signal_number", signal.SIGINT)
        how = "interrupted" if number == signal.SIGINT else f"stopped by signal {number}"
        print(f"task.py: {how} while starting; nothing was written", file=sys.stderr)
        sys.exit(128 + number)


def main(args):
    try:
        if args.resume and args.restart:
            raise UserError("give --resume or --restart, not both")
        if (args.resume or args.restart) and settings_given(args):
            raise UserError(f"{'--resume' if args.resume else '--restart'} takes the run's own "
                            f"settings from its config.json; drop "
                            f"{' '.join(settings_given(args))} (other settings make a new run)")
        config = None if args.resume or args.restart else config_from_args(args)
        import_tensorflow()  # Once the settings are checked: a bad one answers at once.
        from training import config_from_run_dir, run_experiment

        if config is None:
            run_dir = run_experiment(config_from_run_dir(args.resume or args.restart),
                                     resume=bool(args.resume), restart=bool(args.restart))
        else:
            run_dir = run_experiment(config)
    except UserError as e:
        sys.exit(f"task.py: error: {e}")
    except RunInterrupted as e:
        print(f"task.py: {e}", file=sys.stderr)
        sys.exit(128 + e.signal_number)
    except KeyboardInterrupt:  # Ctrl-C before a run directory was made.
        print("task.py: interrupted while starting; nothing was written", file=sys.stderr)
        sys.exit(130)
    print(run_dir)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
