"""Input styles: where a task's image goes among the network's input channels.

`combined` gives the network 3 channels: a greyscale image fills channel 0 and an
RGB image fills all three, so every task shares the input. `channelplex` gives it 4:
MNIST in channel 0 and the other source in channels 1-3 (the dogs' RGB, or a
greyscale second domain such as Fashion-MNIST in channel 1), so the channel itself
tells the network which kind of task it sees. Both follow the original code, whose
two sources were MNIST and the dogs. `grey` gives it 1, for greyscale tasks only:
the input of the continual-learning benchmarks' networks (an MLP on MNIST's pixels,
each weight's fan-in as theirs).
"""

from errors import UserError

# style -> (input channels, first channel of MNIST's images, of another source's; whether an
# RGB image fits)
INPUT_STYLES = {
    "combined": (3, 0, 0, True),
    "channelplex": (4, 0, 1, True),
    "grey": (1, 0, 0, False),
}


def input_channels(style: str) -> int:
    """The number of input channels the network gets under `style`."""
    return _style(style)[0]


def filled_channels(style: str, rgb: bool = False, whole_input: bool = False,
                    other_source: bool = False) -> tuple[int, int]:
    """The channels [start, stop) a task can fill: its image's (image_span), or every
    channel of the style when its transform acts on the whole stacked input (the original's
    `inv` turns the empty channels into ones)."""
    return (0, _style(style)[0]) if whole_input else image_span(style, rgb, other_source)


def carried_channels(style: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    """The input channels [start, stop) that a run's tasks can fill (their `filled_channels`);
    the others are zero for every example of the run, so they need not be carried."""
    return min(start for start, _ in spans), max(stop for _, stop in spans)


def image_span(style: str, rgb: bool, other_source: bool = False) -> tuple[int, int]:
    """The channels [start, stop) an image fills under `style`: greyscale or RGB, from MNIST or
    (`other_source`, and every RGB image) from another source."""
    _, mnist_at, other_at, fits_rgb = _style(style)
    if rgb and not fits_rgb:
        raise UserError(f"--input-style {style} has one channel, for greyscale tasks only; "
                        "use combined or channelplex with RGB tasks (dog, shapes)")
    first = other_at if other_source or rgb else mnist_at
    return first, first + (3 if rgb else 1)


def _style(style: str) -> tuple[int, int, int, bool]:
    try:
        return INPUT_STYLES[style]
    except KeyError:
        raise UserError(
            f"unknown --input-style {style!r}; use one of: {', '.join(INPUT_STYLES)}"
        ) from None
