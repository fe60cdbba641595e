"""How one setting of a run is declared: a dataclass field that carries its flag, its --help
group, its kind and the bound its value must keep.

training.config's core fields and every training method's own (training.methods) are
declared alike, and RunConfig is made of both; task.py's parser, --help and
docs/flags.md are generated from them (training.flags). TensorFlow-free.
"""

import dataclasses
import math
import types
import typing

# The groups of --help and of docs/flags.md's flag table, in their order.
GROUPS = {
    "schedule": "what trains, in what order, for how long",
    "method": "training modes and forgetting mitigations",
    "model": "the network and its optimiser",
    "data": "where the images come from",
    "evaluation": "evaluation and logging",
    "run": "the run: seed, directory, checkpoints, device",
}
# What a field is when it is not a setting of the experiment (metadata "kind"; a field
# without one is such a setting). Sweeps run again, charts that pool seeds and the
# original's runner each leave some kinds out of what they compare or pass on.
KINDS = {
    "place": "where the run's data, caches and logs lie",
    "upkeep": "how the run looks after itself (checkpoints); its records are the same",
    "run": "which run of a setting this is, and on what: its seed and device",
    "implementation": "how the same network is computed; the original has one way",
}
BOUNDS = ("positive", "non-negative")


def setting(default, group: str, help: str, **flag) -> dataclasses.Field:
    """A RunConfig field with its flag: `help` (the default is appended, or `shown`, the
    default in words), its `group`, and argparse options its type does not give
    (`metavar`, `nargs`); `flag`: the flag's name if not the field's, None for a field set
    by another flag (`sets`: the further fields a flag of several values fills);
    `negated`: a switch that turns the field off; `choices`: the allowed values;
    `bound`: positive or non-negative, for a number (None passes), `zero` saying what 0
    means; `kind`: one of KINDS; `schedule`: the only --schedule that reads the field (a
    flag for another is refused); `type`: the field's type where it has no annotation (a
    method's setting) and its default's type is not it; `example`: flags that move it off
    its default, for the tests, where they cannot derive them (a value that another
    setting must allow)."""
    assert group in GROUPS, group
    assert flag.get("kind") in (None, *KINDS), flag["kind"]
    assert flag.get("bound") in (None, *BOUNDS), flag["bound"]
    return dataclasses.field(default=default, metadata={"group": group, "help": help, **flag})


def field_type(field: dataclasses.Field):
    """A method setting's type: declared, or its default's."""
    return field.metadata.get("type", type(field.default))


def value_type(annotation) -> tuple[type, bool]:
    """The element type of a field's annotation, and whether it is a tuple of them."""
    if isinstance(annotation, types.UnionType):  # `X | None`
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is tuple:
        return typing.get_args(annotation)[0], True
    return annotation, False


def flag_name(name: str, field: dataclasses.Field) -> str | None:
    """The flag of field `name`, without its dashes; None if another flag sets it."""
    return field.metadata.get("flag", name.replace("_", "-"))


def refusal(field: dataclasses.Field, value, flag: str) -> str | None:
    """Why `value` is no value of the field (whose flag is `flag`), in a sentence naming
    the fix; None if it is one: a choice not among the field's, a number out of its
    bound (a whole number's field takes whole numbers only)."""
    meta = field.metadata
    if "choices" in meta and value not in meta["choices"]:
        return f"unknown {flag} {value!r}; use one of: {', '.join(meta['choices'])}"
    bound = meta.get("bound")
    if bound is None or value is None:
        return None
    zero = f"0 ({meta['zero']})" if "zero" in meta else "0"
    positive = bound == "positive"
    if int in (field.type, *typing.get_args(field.type)):
        if not isinstance(value, int) or value < (1 if positive else 0):
            whole = "a positive integer" if positive else f"{zero} or a positive integer"
            return f"{flag} must be {whole}, got {value!r}"
    elif not (isinstance(value, (int, float)) and math.isfinite(value)
              and (value > 0 if positive else value >= 0)):
        return f"{flag} must be {'positive' if positive else f'{zero} or positive'}, got {value!r}"
    return None
