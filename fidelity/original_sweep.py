"""Runs the original task.py over a blog experiment's grid, several unseeded runs a setting, so
that the report can set the original's figures beside this project's at a claim's settings.

    python -m fidelity.original_sweep PATH/TO/original/task.py switching --form fashion \
        --runs 3 --data-fashion-dir DIR --test-frequency 500 \
        --log-dir results/original/switching-fashion

Each setting of the grid (as `python -m experiments run` expands it, `--scale`
included; for a smoke test, a small scale) runs `--runs` times through
fidelity.run_original, into LOG_DIR/<setting>/<i>/, the original's own log tree, with
the setting's config beside them (LOG_DIR/<setting>/setting.json). Only settings the
original has can be given to it (fidelity.compare's SHARED_SETTINGS, the two it gains
by its patches among them); a grid that needs another is refused, naming it. Runs
already complete are kept, so a stopped sweep is started again with the same command.
"""

import argparse
import json
import os
import sys

import runtime
from errors import UserError
from fidelity.compare import SHARED_SETTINGS, original_command, run_side
from training.config import RunConfig, fields_of_kind, flag_of

# Settings the original's run is not told: where the data and logs lie (those a sweep does
# not compare), and the seed, device and kernels, which it has no flags for (it is unseeded).
PLACES = fields_of_kind("place", "upkeep", "run", "implementation")
# Every other setting must be this project's default, which is the original's
# (docs/fidelity.md): MNIST's last 55,000 training images, every test image tested, one head.
DEFAULTS = RunConfig()


def original_flags(config: RunConfig) -> list[str]:
    """The original's command-line flags for a run of this project's `config`; a UserError
    naming the first setting the original has no flag for."""
    for field in DEFAULTS.__dataclass_fields__:
        if field in SHARED_SETTINGS or field in PLACES:
            continue
        if getattr(config, field) != getattr(DEFAULTS, field):
            raise UserError(f"the original has no {flag_of(field)} (this grid sets it to "
                            f"{getattr(config, field)!r}); it runs only what "
                            f"{', '.join(map(flag_of, SHARED_SETTINGS))} can say")
    flags = ["--data-dir", config.data_dir] if config.data_dir else []
    for name in SHARED_SETTINGS:
        value = getattr(config, name)
        if value is None:
            continue
        flags.append(flag_of(name))
        flags += [str(v) for v in value] if isinstance(value, (tuple, list)) else [str(value)]
    return flags


def plan(task_py: str, specs: list, runs: int, log_dir: str) -> dict[str, dict]:
    """{setting: {run folder: the original's command}} for every setting of the grid."""
    settings = {}
    for spec in specs:
        if spec.point in settings:
            continue  # One setting's seeds: the original is unseeded, its runs are counted.
        flags = original_flags(spec.config)
        settings[spec.point] = {
            os.path.join(log_dir, spec.point, str(i)): original_command(
                task_py, flags, spec.config.max_steps, os.path.join(log_dir, spec.point, str(i)))
            for i in range(runs)}
    return settings


def write_setting(folder: str, config: RunConfig) -> None:
    """The setting's config beside its runs (setting.json), for what the original's logs do
    not name (its width, learning rate): the report reads it with them."""
    os.makedirs(folder, exist_ok=True)
    settings = {k: v for k, v in config.to_json().items() if k not in PLACES}
    with open(os.path.join(folder, "setting.json"), "w") as f:
        json.dump(settings, f, indent=1)


def build_parser() -> argparse.ArgumentParser:
    from experiments.__main__ import PASSED_SETTINGS, REPLACED_SETTINGS
    from experiments.registry import all_forms
    from training.flags import add_setting_flags

    parser = argparse.ArgumentParser(prog="python -m fidelity.original_sweep",
                                     description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("original", help="path of a copy of the original task.py")
    parser.add_argument("name", help="a blog experiment (python -m experiments list)")
    parser.add_argument("--form", choices=all_forms(), default="mnist",
                        help="the experiment's form (default: mnist)")
    parser.add_argument("--runs", type=int, default=3, help="runs a setting (default: 3)")
    parser.add_argument("--log-dir", required=True, help="where the runs go")
    parser.add_argument("--only", nargs="+", metavar="PATTERN",
                        help="only the settings whose names match one of these patterns")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="every run's --max-steps and --task-time times this (default: 1)")
    add_setting_flags(parser, PASSED_SETTINGS, "for every run")
    add_setting_flags(parser, REPLACED_SETTINGS, "for every run, in place of the grid's own")
    return parser


def main(argv: list[str]) -> int:
    from experiments import sweep
    from experiments.__main__ import PASSED_SETTINGS, REPLACED_SETTINGS
    from experiments.registry import get_experiment

    args = build_parser().parse_args(argv)
    runtime.prepare_process()  # Quiets TensorFlow in the runs it starts.
    try:
        if not os.path.isfile(args.original):
            raise UserError(f"{args.original} is not a file; give a copy of the original task.py")
        if args.runs < 1:
            raise UserError(f"--runs must be at least 1, got {args.runs}")
        specs = sweep.expand(
            get_experiment(args.name), args.form, seeds=1, log_dir=args.log_dir,
            is_quick=False, scale=args.scale,
            overrides={key: getattr(args, key) for key in PASSED_SETTINGS if key in args},
            replacements={key: getattr(args, key) for key in REPLACED_SETTINGS if key in args})
        if args.only:
            specs = sweep.matching(specs, args.only)
        log_dir = os.path.abspath(args.log_dir)
        task_py = os.path.abspath(args.original)
        for point, commands in plan(task_py, specs, args.runs, log_dir).items():
            config = next(s.config for s in specs if s.point == point)
            write_setting(os.path.join(log_dir, point), config)
            run_side(f"original {point}", commands, config.max_steps)
    except UserError as e:
        print(f"fidelity.original_sweep: error: {e}", file=sys.stderr)
        return 1
    print(f"original runs: {log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
