"""The model builder: specs, shapes, parameter counts, the original's layers (the fast
kernels against their plain forms: test_kernels.py)."""

import numpy as np
import pytest
import tensorflow as tf

from errors import UserError
from models import LocalResponseNorm, build_model, parse_network
from models.spec import layer_shapes

# Hand-counted from the original's layers, for 3 input channels (`combined`):
# conv 5*5*3*64+64 = 4,864; after the stride-2 pool 14*14*64 = 12,544 features;
# second conv 5*5*64*128+128 = 204,928 -> 7*7*128 = 6,272; fc 500 on 28*28*3 = 2,352.
PARAMS = {
    ("conv", "fc"): 4_864 + 12_544 * 10 + 10,
    ("conv", "conv", "fc"): 4_864 + 204_928 + 6_272 * 10 + 10,
    ("fc", "fc"): 2_352 * 500 + 500 + 500 * 10 + 10,
}


@pytest.mark.parametrize("spec", list(PARAMS))
def test_output_shape_and_parameter_count(spec):
    model = build_model(spec, input_shape=(28, 28, 3))
    assert model.count_params() == PARAMS[spec]
    assert model(tf.zeros((5, 28, 28, 3))).shape == (5, 10)


@pytest.mark.parametrize("network, options", [
    (("conv", "conv", "fc"), dict(conv_filters=8)),
    (("conv:6", "fc"), dict(norm="batch")),
    (("fc:20", "fc:7", "fc"), dict(task_signal=3)),
    (("conv3:4", "conv3:6", "fc:8", "fc"), dict(num_classes=2, heads=3, task_signal=3)),
])
def test_the_specs_layer_shapes_are_the_built_models(network, options):
    model = build_model(network, input_shape=(27, 28, 3), kernels="plain", **options)
    layers = layer_shapes(network, input_shape=(27, 28, 3), **options)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == \
        sum(layer.parameters for layer in layers)
    for i, layer in enumerate(layers):
        name = f"layer{i + 1}_" + ("pool" if layer.kind != "fc" else
                                   "logits" if i == len(layers) - 1 else "fc")
        assert tuple(model.get_layer(name).output.shape[1:]) == layer.outputs


def test_channelplex_input_has_a_fourth_channel():
    model = build_model(("conv", "fc"), input_shape=(28, 28, 4))
    assert model.count_params() == PARAMS[("conv", "fc")] + 5 * 5 * 64


def test_width_flags_set_filters_and_units():
    assert build_model(("conv", "fc"), input_shape=(28, 28, 3), conv_filters=8).count_params() \
        == 5 * 5 * 3 * 8 + 8 + 14 * 14 * 8 * 10 + 10
    assert build_model(("fc", "fc"), input_shape=(28, 28, 3), fc_units=20).count_params() \
        == 2_352 * 20 + 20 + 20 * 10 + 10
    second = build_model(("conv", "conv", "fc"), input_shape=(28, 28, 3), conv_filters=8)
    assert second.get_layer("layer2_conv").filters == 16


def test_norm_choice_and_dropout():
    lrn = build_model(("conv", "fc"), input_shape=(28, 28, 3))
    assert isinstance(lrn.get_layer("layer1_norm"), LocalResponseNorm)
    batch = build_model(("conv", "fc"), input_shape=(28, 28, 3), norm="batch")
    assert batch.count_params() == PARAMS[("conv", "fc")] + 4 * 64
    plain = build_model(("conv", "fc"), input_shape=(28, 28, 3), norm="none", keep_prob=1.0)
    assert [type(layer).__name__ for layer in plain.layers[1:]] == [
        "ConvMaxPool", "Flatten", "Dense"]
    assert lrn.get_layer("layer1_dropout").rate == pytest.approx(0.1)  # keep 0.9


def test_initialisation_follows_the_original():
    model = build_model(("conv", "fc"), input_shape=(28, 28, 3), seed=1)
    kernel = model.get_layer("layer1_conv").kernel.numpy()
    assert np.all(np.abs(kernel) <= 0.2 + 1e-6)  # Truncated at two standard deviations.
    assert 0.07 < kernel.std() < 0.1
    np.testing.assert_allclose(model.get_layer("layer2_logits").bias.numpy(), 0.1)
    again = build_model(("conv", "fc"), input_shape=(28, 28, 3), seed=1)
    np.testing.assert_array_equal(again.get_layer("layer1_conv").kernel.numpy(), kernel)


@pytest.mark.parametrize("spec, message", [
    (["conv", "bogus"], "unknown layer 'bogus'"),
    ([], "empty"),
    (["conv"], "must end in fc"),
    (["fc", "conv", "fc"], "conv after an fc"),
])
def test_malformed_specs_name_the_fix(spec, message):
    with pytest.raises(UserError, match=message) as info:
        parse_network(spec)
    assert "e.g. --network conv fc" in str(info.value)


@pytest.mark.parametrize("spec, message", [
    (["conv:x", "fc"], "the width of 'conv:x' must be a positive whole number"),
    (["fc:0", "fc"], "the width of 'fc:0' must be a positive whole number in --network"),
    (["conv3", "fc:10"], "output layer's width"),
])
def test_malformed_widths_name_the_fix(spec, message):
    with pytest.raises(UserError, match=message):
        parse_network(spec)


def test_the_ten_task_papers_network():
    spec = parse_network(["shapes-paper"])
    assert spec == ("conv3:16", "conv3:32", "conv3:48", "conv3:64",
                    "fc:512", "fc:512", "fc:512", "fc:512", "fc")
    model = build_model(spec, input_shape=(48, 48, 3), num_classes=2, init="he", task_signal=10)
    convs = [model.get_layer(f"layer{i}_conv") for i in range(1, 5)]
    assert [c.filters for c in convs] == [16, 32, 48, 64]
    assert all(c.kernel_size == (3, 3) and c.padding == "same" for c in convs)
    assert isinstance(model.get_layer("layer1_norm"), tf.keras.layers.BatchNormalization)
    # 48 -> 24 -> 12 -> 6 -> 3 after four 2x2 pools; 3*3*64 features and the 10-long signal.
    assert model.get_layer("layer5_fc").kernel.shape == (3 * 3 * 64 + 10, 512)
    out = model((tf.zeros((2, 48, 48, 3)), tf.one_hot([0, 1], 10)))
    assert out.shape == (2, 2)
    np.testing.assert_allclose(model.get_layer("layer9_logits").bias.numpy(), 0.0)  # He init


def test_widths_in_the_spec_override_the_flags():
    model = build_model(("conv:8", "fc:20", "fc"), input_shape=(28, 28, 3), conv_filters=64,
                        fc_units=500)
    assert model.get_layer("layer1_conv").filters == 8
    assert model.get_layer("layer2_fc").units == 20


def test_per_task_heads_give_each_task_its_own_output():
    model = build_model(("fc", "fc"), input_shape=(28, 28, 3), fc_units=8, heads=3, seed=0)
    assert model.get_layer("layer2_logits").kernel.shape == (8, 3 * 10)  # Three 10-way heads.
    images = tf.random.stateless_uniform((6, 28, 28, 3), seed=(3, 4))
    tasks = tf.one_hot([0, 0, 1, 1, 2, 2], 3)
    before = model((images, tasks)).numpy()
    # Changing head 2's weights changes task 2's answers and no other task's.
    head = model.get_layer("layer2_logits")
    kernel = head.kernel.numpy()
    kernel[:, 20:30] += 1.0
    head.kernel.assign(kernel)
    after = model((images, tasks)).numpy()
    np.testing.assert_array_equal(after[:4], before[:4])
    assert not np.allclose(after[4:], before[4:])
    # A task's loss trains its own head only.
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model((images[:2], tasks[:2])))
    gradient = tape.gradient(loss, head.kernel).numpy()
    assert np.any(gradient[:, :10]) and not np.any(gradient[:, 10:])


def test_plain_kernels_build_the_same_network_from_keras_layers():
    fast = build_model(("conv", "fc"), input_shape=(28, 28, 3), seed=4)
    plain = build_model(("conv", "fc"), input_shape=(28, 28, 3), seed=4, kernels="plain")
    assert [type(layer).__name__ for layer in plain.layers[1:]] == [
        "Conv2D", "MaxPooling2D", "LocalResponseNorm", "Dropout", "Flatten", "Dense"]
    assert plain.count_params() == fast.count_params() == PARAMS[("conv", "fc")]
    for a, b in zip(fast.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)  # The same initial weights from the seed.
    with pytest.raises(ValueError, match="every input channel"):
        build_model(("fc", "fc"), input_shape=(28, 28, 3), carried=(0, 1), kernels="plain")
