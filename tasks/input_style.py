"""Input styles: where a task's image goes among the network's input channels.

`combined` gives the network 3 channels: a greyscale image fills channel 0 and an
RGB image fills all three, so the two kinds of task share the input. `channelplex`
gives it 4: greyscale in channel 0 and RGB in channels 1-3, so the channel itself
tells the network which kind of task it sees. Both follow the original code.
"""

import tensorflow as tf

from errors import UserError

# style -> (input channels, first channel of a greyscale image, of an RGB image)
INPUT_STYLES = {
    "combined": (3, 0, 0),
    "channelplex": (4, 0, 1),
}


def input_channels(style: str) -> int:
    """The number of input channels the network gets under `style`."""
    return _style(style)[0]


def place_channels(images: tf.Tensor, style: str, rgb: bool = False) -> tf.Tensor:
    """Places images, [..., H, W] greyscale or [..., H, W, 3] if `rgb`, in the style's channels."""
    channels, grey_at, rgb_at = _style(style)
    if rgb:
        first, depth = rgb_at, 3
    else:
        images, first, depth = images[..., tf.newaxis], grey_at, 1
    rank = len(images.shape)
    paddings = [[0, 0]] * (rank - 1) + [[first, channels - first - depth]]
    return tf.pad(images, paddings)


def _style(style: str) -> tuple[int, int, int]:
    try:
        return INPUT_STYLES[style]
    except KeyError:
        raise UserError(
            f"unknown --input-style {style!r}; use one of: {', '.join(INPUT_STYLES)}"
        ) from None
