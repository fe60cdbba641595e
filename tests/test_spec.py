"""Each layer's shapes, parameters and multiply-adds from a network spec, counted by hand."""

import pytest

from models.spec import LayerShape, layer_shapes


def test_a_conv_block_halves_each_side_rounding_up_and_an_fc_layer_flattens_it():
    conv, fc = layer_shapes(("conv", "fc"), input_shape=(5, 7, 2), conv_filters=4)
    # 5x5 kernels on 2 channels: 50 inputs a filter; 3x3 stride-2 SAME pool: 3x4.
    assert conv == LayerShape("conv", (5, 7, 2), (3, 4, 4), fan_in=50,
                              parameters=50 * 4 + 4, multiply_adds=5 * 7 * 50 * 4)
    assert fc == LayerShape("fc", (48,), (10,), fan_in=48, parameters=48 * 10 + 10,
                            multiply_adds=480)


def test_a_later_conv_doubles_the_filters_unless_its_width_is_given():
    assert [layer.outputs for layer in layer_shapes(
        ("conv", "conv", "fc"), input_shape=(28, 28, 1), conv_filters=8)] == [
        (14, 14, 8), (7, 7, 16), (10,)]
    assert layer_shapes(("conv", "conv:3", "fc"), input_shape=(28, 28, 1))[1].outputs == \
        (7, 7, 3)


def test_a_conv3_block_halves_each_side_rounding_down_and_counts_its_batch_norm():
    [conv3, _] = layer_shapes(("conv3:6", "fc"), input_shape=(5, 7, 3))
    assert conv3 == LayerShape("conv3:6", (5, 7, 3), (2, 3, 6), fan_in=27,
                               parameters=27 * 6 + 6 + 2 * 6, multiply_adds=5 * 7 * 27 * 6)
    [conv, _] = layer_shapes(("conv:6", "fc"), input_shape=(5, 7, 3), norm="batch")
    assert conv.parameters == 75 * 6 + 6 + 2 * 6


def test_the_task_signal_joins_the_first_fc_and_the_heads_widen_the_last():
    first, second, last = layer_shapes(("conv:2", "fc:4", "fc:3", "fc"), input_shape=(2, 2, 1),
                                       task_signal=5, num_classes=2, heads=5)[1:]
    assert (first.inputs, first.outputs, first.parameters) == ((2 + 5,), (4,), 7 * 4 + 4)
    assert (second.inputs, second.fan_in) == ((4,), 4)  # No signal past the first.
    assert last.outputs == (2 * 5,) and last.multiply_adds == 3 * 10


def test_a_named_network_is_expanded():
    layers = layer_shapes(("shapes-paper",), input_shape=(48, 48, 3), num_classes=2,
                          task_signal=10)
    assert [layer.outputs for layer in layers] == [
        (24, 24, 16), (12, 12, 32), (6, 6, 48), (3, 3, 64), (512,), (512,), (512,), (512,),
        (2,)]
    assert layers[4].fan_in == 3 * 3 * 64 + 10


def test_a_malformed_spec_is_refused_as_the_builder_refuses_it():
    from errors import UserError

    with pytest.raises(UserError, match="must end in fc"):
        layer_shapes(("fc", "conv"), input_shape=(28, 28, 1))
