"""Test cases made from the training methods' declarations (training.methods): command lines
that set every method's flags, and the runs that check every method's exact resume. A
new method is in them without being named here."""

import dataclasses

from errors import UserError
from training import methods
from training.flags import config_from_args, parse_flags
from training.settings import flag_name

# What the resume check's runs set beside the methods' flags (and where files lie).
RESUME_SETTINGS = ("--tasks", "id", "inv", "--task-time", "50", "--batch", "8")


@dataclasses.dataclass(frozen=True)
class Example:
    """Flags that turn a method on: its declared example or one of its variants."""

    label: str  # "ewc", "ewc-online"
    method: str
    flags: tuple[str, ...]


def examples() -> list[Example]:
    """Every method's example, then its variants, in the methods' order."""
    return [case for name, method in methods.registered().items()
            for case in [Example(name, name, method.example)]
            + [Example(f"{name}-{variant}", name, flags)
               for variant, flags in method.variants.items()]]


def config_of(*flags: str):
    """The RunConfig of a command line of task.py."""
    return config_from_args(parse_flags(["task.py", *flags]))


def turns_on(settings: tuple[str, ...], cases: list[Example]) -> bool:
    """Whether the cases' flags together, after `settings`, make a valid config in which every
    case's method is used."""
    try:
        config = config_of(*settings, *(flag for case in cases for flag in case.flags))
    except UserError:
        return False
    return {case.method for case in cases} <= set(methods.methods_for(config))


def resume_groups(settings: tuple[str, ...] = RESUME_SETTINGS) -> list[list[Example]]:
    """Every example, packed into few runs: each joins the first run that gives none of its
    flags already and with which its method and the others all stay on (greedily, in
    the methods' order), else starts a run of its own."""
    groups: list[list[Example]] = []
    for case in examples():
        given = set(_names(case.flags))
        fitting = (group for group in groups
                   if not given & {n for other in group for n in _names(other.flags)}
                   and turns_on(settings, [*group, case]))
        group = next(fitting, None)
        if group is None:
            groups.append([case])
        else:
            group.append(case)
    return groups


def tuned_lines(settings: tuple[str, ...] = ("--tasks", "id", "inv")) -> list[list[str]]:
    """Command lines that between them move every method setting off its default: each
    example, and each method's example with its settings that the example leaves at
    their defaults moved off them (a switch given; the next choice; a number one more;
    else the setting's own `example` flags)."""
    lines = [[*settings, *case.flags] for case in examples()]
    for method in methods.registered().values():
        config = config_of(*settings, *method.example)
        tuned = [flag for name, field in method.settings.items()
                 if getattr(config, name) == field.default
                 for flag in _off_default(flag_name(name, field), field)]
        if tuned:
            lines.append([*settings, *method.example, *tuned])
    return lines


def _off_default(flag: str, field: dataclasses.Field) -> list[str]:
    if "example" in field.metadata:
        return list(field.metadata["example"])
    flag, default = f"--{flag}", field.default
    if isinstance(default, bool):
        return [flag]
    if "choices" in field.metadata:
        return [flag, next(c for c in field.metadata["choices"] if c != default)]
    if isinstance(default, (int, float)):
        return [flag, str(default + 1)]
    return []  # Left at its default: test_cli names it, and it wants an `example` of its own.


def _names(flags: tuple[str, ...]) -> list[str]:
    return [flag for flag in flags if flag.startswith("--")]
