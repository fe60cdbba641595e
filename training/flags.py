"""task.py's command line, generated from RunConfig's fields: the parser, --help, the config
it builds, and docs/flags.md's flag table (`python -m training.flags` prints it).

A flag given sets its field; a flag not given leaves the field's default, so that
RunConfig is the one place a default is written. TensorFlow-free.
"""

import argparse
import dataclasses

from absl.flags import argparse_flags

from errors import OneLineErrors, UserError
from tasks.registry import TASKS, known_tasks
from training import methods
from training.config import PRESETS, RunConfig, flag_of
from training.settings import GROUPS, value_type

# Flags that act on a run directory rather than set a run's settings.
ACTIONS = {
    "resume": "continue a stopped run from its latest checkpoint (or, if that cannot be "
              "read, the one before), with its own settings (its config.json; a settings flag "
              "given with it is refused)",
    "restart": "start an unfinished run afresh in its own directory, with its own "
               "settings (as --resume): what it had logged and checkpointed is removed (for a run "
               "stopped before its first checkpoint, which cannot be resumed)",
}


METAVARS = {int: "N", float: "X", str: "DIR"}  # A str setting without choices is a folder
# unless its metadata names it otherwise.


class Parser(OneLineErrors, argparse_flags.ArgumentParser):
    """absl's parser (it knows absl's own flags), with one-line errors."""


@dataclasses.dataclass(frozen=True)
class Flag:
    """One command-line flag of a RunConfig field (or of several: `fields`)."""

    name: str
    fields: tuple[str, ...]
    group: str
    help: str
    default: str  # As --help shows it.
    options: dict  # For argparse's add_argument.


def _shown(field: dataclasses.Field) -> str:
    if "shown" in field.metadata:
        return field.metadata["shown"]
    value = field.default
    if isinstance(value, bool):  # A switch, off unless given (--nondeterministic too).
        return "off"
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def flags() -> list[Flag]:
    """Every settings flag, in RunConfig's field order."""
    result = []
    for field in dataclasses.fields(RunConfig):
        meta = field.metadata
        name = meta.get("flag", field.name.replace("_", "-"))
        if name is None:  # Set by another field's flag.
            continue
        kind, many = value_type(field.type)
        options = {"dest": field.name, "default": argparse.SUPPRESS}
        if kind is bool:
            options["action"] = "store_false" if meta.get("negated") else "store_true"
        else:
            options["type"] = kind
            if many or "nargs" in meta:
                options["nargs"] = meta.get("nargs", "+")
            if "choices" in meta:
                options["metavar"] = "{" + ",".join(meta["choices"]) + "}"
            else:
                options["metavar"] = meta.get("metavar", METAVARS.get(kind, "VALUE"))
        result.append(Flag(name, (field.name, *meta.get("sets", ())), meta["group"],
                           meta["help"], _shown(field), options))
    return result


def build_parser(prog: str = "task.py") -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog,
        description="Train one network on a sequence of tasks, switching task every "
                    "--task-time steps (or in criterion episodes), and log every task's "
                    "test accuracy.",
        epilog="Tasks: " + "; ".join(f"{name}: {spec.description}"
                                     for name, spec in TASKS.items()
                                     if spec.source != "shapes"
                                     and not name.startswith("pixperm-"))
               + "; shapes-DIMENSION-FEATURE: shapes scenes, is there an object with the "
                 f"feature? (yes/no). {known_tasks()}. Training methods: "
               + "; ".join(f"{name} ({', '.join(method.flags())}): {method.description}"
                           for name, method in methods.registered().items()) + ".")
    groups = {name: parser.add_argument_group(f"{name}: {title}")
              for name, title in GROUPS.items()}
    for flag in flags():
        for preset in _presets_before(flag):
            groups[preset.group].add_argument(
                f"--{preset.flag}", choices=sorted(preset.values), default=None,
                help=f"{preset.help} (default: {preset.default})")
        help_text = flag.help if flag.default == "off" else f"{flag.help} (default: {flag.default})"
        groups[flag.group].add_argument(f"--{flag.name}", help=help_text.replace("%", "%%"),
                                        **flag.options)
    for name, help_text in ACTIONS.items():
        groups["run"].add_argument(f"--{name}", metavar="RUN_DIR", default=None, help=help_text)
    return parser


def add_setting_flags(parser: argparse.ArgumentParser, fields: tuple[str, ...],
                      note: str) -> None:
    """Adds the flags of these RunConfig fields to another tool's parser (`note` says what
    the tool does with them); a flag not given is absent from the parsed namespace."""
    for flag in flags():
        if flag.fields[0] in fields:
            shown = "" if flag.default == "off" else f" (default: {flag.default})"
            parser.add_argument(f"--{flag.name}", help=f"{note}: {flag.help}{shown}",
                                **flag.options)


def _presets_before(flag: Flag) -> list:
    """The presets listed just before `flag`: those whose first field it sets."""
    return [p for p in PRESETS if next(iter(p.values[p.default])) in flag.fields]


def parse_flags(argv: list[str]) -> argparse.Namespace:
    """argv (program name first) parsed; only the settings flags given are set."""
    return build_parser().parse_args(argv[1:])


def settings_given(args: argparse.Namespace) -> list[str]:
    """The settings flags (presets included) given on a parsed command line, as typed."""
    given = [f"--{p.flag}" for p in PRESETS if getattr(args, p.flag.replace("-", "_"))]
    return given + [f"--{flag.name}" for flag in flags() if flag.fields[0] in args]


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of a parsed command line: defaults, then presets, then the flags given."""
    settings = {}
    for preset in PRESETS:
        settings.update(preset.values[getattr(args, preset.flag.replace("-", "_"))
                                      or preset.default])
    for flag in flags():
        if flag.fields[0] not in args:
            continue
        value = getattr(args, flag.fields[0])
        if len(flag.fields) > 1:
            settings.update(zip(flag.fields, value))
        else:
            settings[flag.fields[0]] = tuple(value) if isinstance(value, list) else value
    config = RunConfig(**settings)
    _check_schedule_flags(config, args)
    return config


def _check_schedule_flags(config: RunConfig, args: argparse.Namespace) -> None:
    """Refuses a flag given for a schedule other than the run's (`--task-time` with
    --schedule episodes), which the run would ignore without a word."""
    for field in dataclasses.fields(RunConfig):
        schedule = field.metadata.get("schedule")
        if schedule not in (None, config.schedule) and field.name in args:
            raise UserError(f"{flag_of(field.name)} sets the {schedule} schedule, which this "
                            f"run does not follow (--schedule {config.schedule}); drop it, or "
                            f"give --schedule {schedule}")


def markdown_table() -> str:
    """docs/flags.md's flag tables, one per group, from the same declarations as --help."""
    lines = []
    rows = []
    for flag in flags():
        rows += [(p.group, f"--{p.flag}", " {" + ",".join(sorted(p.values)) + "}", p.default,
                  p.help) for p in _presets_before(flag)]
        rows.append((flag.group, f"--{flag.name}", _placeholder(flag), flag.default, flag.help))
    rows += [("run", f"--{name}", " RUN_DIR", "", text) for name, text in ACTIONS.items()]
    for group, title in GROUPS.items():
        lines += [f"**{group}**: {title}", "", "| flag | default | meaning |", "|---|---|---|"]
        lines += [f"| `{flag}{placeholder}` | {_markdown(default)} | {_markdown(text)} |"
                  for g, flag, placeholder, default, text in rows if g == group]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _markdown(text: str) -> str:
    """Plain help text made safe in a markdown table cell."""
    return text.replace("<", "&lt;").replace("*", "\\*").replace("|", "\\|")


def _placeholder(flag: Flag) -> str:
    options = flag.options
    if "action" in options:
        return ""
    metavar = options["metavar"]
    if isinstance(metavar, tuple):
        return " " + " ".join(metavar)
    return f" {metavar} [{metavar} ...]" if options.get("nargs") == "+" else f" {metavar}"


if __name__ == "__main__":
    print(markdown_table(), end="")
