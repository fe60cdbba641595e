"""The model builder: specs, shapes, parameter counts, the original's layers."""

import numpy as np
import pytest
import tensorflow as tf

from errors import UserError
from models import LocalResponseNorm, build_model, parse_network
from models.layers import CarriedDense, ConvMaxPool, max_pool_of_parity_planes

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


def test_lrn_matches_its_formula():
    x = np.random.default_rng(0).random((2, 3, 3, 12)).astype(np.float32)
    radius, bias, alpha, beta = 4, 1.0, 0.001 / 9.0, 0.75
    squares = x ** 2
    expected = np.empty_like(x)
    for c in range(12):
        window = squares[..., max(0, c - radius): c + radius + 1].sum(-1)
        expected[..., c] = x[..., c] / (bias + alpha * window) ** beta
    np.testing.assert_allclose(LocalResponseNorm()(x).numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("beta", [0.75, 0.5])
def test_lrn_gradient_matches_tensorflows(beta):
    x = tf.random.stateless_normal((3, 4, 4, 16), seed=(5, 6))
    upstream = tf.random.stateless_normal((3, 4, 4, 16), seed=(7, 8))
    layer = LocalResponseNorm(beta=beta)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = layer(x)
        theirs = tf.nn.local_response_normalization(x, depth_radius=4, bias=1.0,
                                                    alpha=0.001 / 9.0, beta=beta)
        ours_loss, their_loss = tf.reduce_sum(ours * upstream), tf.reduce_sum(theirs * upstream)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tape.gradient(ours_loss, x).numpy(),
                               tape.gradient(their_loss, x).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("size", [28, 14, 2])
def test_the_parity_plane_pool_is_tensorflows_max_pool_ties_included(size):
    # Values in {0, 1, 2}: most windows hold ties, and the gradient must go to the first
    # maximum of each, in row-major order, as TensorFlow's max-pool gradient sends it.
    # The biases put some windows' ReLU off (no gradient) and leave others on.
    y = tf.constant(np.random.default_rng(size).integers(0, 3, (4, size, size, 8)), tf.float32)
    bias = tf.constant(np.linspace(-2.5, 1.0, 8), tf.float32)
    upstream = tf.random.stateless_normal((4, size // 2, size // 2, 8), seed=(1, size))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([y, bias])
        expected = tf.nn.relu(tf.nn.max_pool2d(y, 3, 2, "SAME") + bias)
        planes = tf.stack([y[:, a::2, b::2] for a in (0, 1) for b in (0, 1)])
        pooled = {training: max_pool_of_parity_planes(planes, bias, training=training)
                  for training in (True, False)}
        expected_loss = tf.reduce_sum(expected * upstream)
        losses = {training: tf.reduce_sum(p * upstream) for training, p in pooled.items()}
    assert 0 < np.mean(expected.numpy() > 0) < 1
    for training in (True, False):
        np.testing.assert_array_equal(pooled[training].numpy(), expected.numpy())
        for variable in (y, bias):
            np.testing.assert_allclose(tape.gradient(losses[training], variable).numpy(),
                                       tape.gradient(expected_loss, variable).numpy(),
                                       atol=1e-5)


def test_in_parts_computes_a_batch_in_parts_and_joins_them_in_order(monkeypatch):
    from models import layers

    calls = []

    def double(x):
        calls.append(int(x.shape[0]))
        return 2 * x

    x = tf.reshape(tf.range(7.0), [7, 1])
    monkeypatch.setattr(layers, "_parts", lambda: 3)
    np.testing.assert_array_equal(layers.in_parts(double, x).numpy(), 2 * x.numpy())
    assert calls == [3, 2, 2]
    monkeypatch.setattr(layers, "_parts", lambda: 8)  # More parts than examples: whole.
    layers.in_parts(double, x)
    assert calls[-1] == 7


@pytest.mark.parametrize("shape, carried, size", [
    ((28, 28, 1), None, 5),       # The parity-plane path.
    ((28, 28, 3), (0, 3), 5),     # Parity planes on every declared channel.
    ((28, 28, 1), (1, 2), 5),     # ... on a carried subset of them.
    ((12, 10, 2), None, 4),       # Even and smaller kernels (SAME pads unevenly).
    ((6, 8, 1), None, 3),
    ((7, 7, 2), None, 5),         # Odd sizes take the plain path,
    ((14, 14, 16), None, 5),      # and so do deep layers' many channels.
])
def test_conv_max_pool_is_a_convolution_then_a_max_pool(shape, carried, size):
    channels = 3 if carried else shape[-1]
    layer = ConvMaxPool(8, size, channels if carried else None, carried,
                        kernel_initializer=tf.keras.initializers.RandomNormal(seed=2),
                        bias_initializer=tf.keras.initializers.RandomNormal(seed=3))
    x = tf.random.stateless_uniform((5, *shape), seed=(3, 4))
    full_x = x if carried is None else tf.pad(
        x, [[0, 0], [0, 0], [0, 0], [carried[0], channels - carried[1]]])
    upstream = tf.random.stateless_normal((5, -(-shape[0] // 2), -(-shape[1] // 2), 8),
                                          seed=(5, 6))
    layer.build(x.shape)
    with tf.GradientTape(persistent=True) as tape:
        ours = layer(x, training=True)
        plain = tf.nn.relu(tf.nn.bias_add(
            tf.nn.max_pool2d(tf.nn.conv2d(full_x, layer.kernel, 1, "SAME"), 3, 2, "SAME"),
            layer.bias))
        ours_loss, plain_loss = tf.reduce_sum(ours * upstream), tf.reduce_sum(plain * upstream)
    np.testing.assert_allclose(ours.numpy(), plain.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer(x, training=False).numpy(), plain.numpy(), rtol=1e-5,
                               atol=1e-5)
    for variable in (layer.kernel, layer.bias):
        np.testing.assert_allclose(tape.gradient(ours_loss, variable).numpy(),
                                   tape.gradient(plain_loss, variable).numpy(), rtol=1e-4,
                                   atol=1e-4)


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
    (["conv:x", "fc"], "unknown layer 'conv:x'"),
    (["fc:0", "fc"], "unknown layer 'fc:0'"),
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


@pytest.mark.parametrize("spec", list(PARAMS))
def test_outputs_and_gradients_match_a_plain_keras_reference(spec):
    from benchmarks.reference import build_reference, copy_weights

    project = build_model(spec, input_shape=(28, 28, 3), keep_prob=1.0, seed=3)
    reference = build_reference(spec, input_shape=(28, 28, 3), keep_prob=1.0)
    copy_weights(project, reference)
    images = tf.random.stateless_uniform((8, 28, 28, 3), seed=(1, 2))
    labels = tf.constant([0, 1, 2, 3, 4, 5, 6, 7])
    results = []
    for model in (project, reference):
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        gradients = tape.gradient(loss, model.trainable_variables)
        by_shape = sorted((tuple(g.shape), g.numpy()) for g in gradients)
        results.append((logits.numpy(), by_shape))
    (logits, grads), (ref_logits, ref_grads) = results
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-4, atol=1e-4)
    for (shape, g), (ref_shape, r) in zip(grads, ref_grads):
        assert shape == ref_shape
        np.testing.assert_allclose(g, r, rtol=1e-3, atol=1e-5)


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


def _in_full_shape(model, tensors) -> list[np.ndarray]:
    """Values or gradients of the model's trainable variables in the full model's shapes: a
    CarriedDense's carried kernel becomes its full kernel, the uncarried rows given as
    `uncarried` (its held-out weights, or zero gradients)."""
    carried = {id(layer.carried_kernel): layer for layer in model.layers
               if isinstance(layer, CarriedDense)}
    full = []
    for variable, tensor in zip(model.trainable_variables, tensors):
        array = tf.convert_to_tensor(tensor).numpy()
        layer = carried.get(id(variable))
        if layer is not None:
            whole = np.zeros(layer.kernel.shape, np.float32)
            whole[layer.carried_rows] = array
            if tensor is variable:
                whole[layer.uncarried_rows] = layer.uncarried_kernel.numpy()
            array = whole
        full.append(array)
    return full


@pytest.mark.parametrize("spec, signal, heads", [
    (("conv", "fc"), 0, 1), (("fc", "fc"), 0, 1), (("fc", "fc"), 3, 1),
    (("conv", "conv", "fc"), 3, 3), (("conv3:4", "fc"), 0, 1)])
def test_a_model_on_the_carried_channels_is_the_full_model_on_zero_padded_input(spec, signal,
                                                                                heads):
    options = dict(input_shape=(28, 28, 3), keep_prob=1.0, seed=1, task_signal=signal,
                   heads=heads)
    full = build_model(spec, **options)
    compact = build_model(spec, carried=(0, 1), **options)
    assert full.count_params() == compact.count_params()
    compact_weights = _in_full_shape(compact, compact.trainable_variables)
    for a, b in zip(full.trainable_variables, compact_weights):
        np.testing.assert_array_equal(a.numpy(), b)  # Same weights from the seed.
    images = tf.random.stateless_uniform((5, 28, 28, 1), seed=(4, 5))
    padded = tf.pad(images, [[0, 0], [0, 0], [0, 0], [0, 2]])
    task = tf.one_hot([0, 1, 2, 0, 1], 3)
    with_task = signal or heads > 1
    labels = tf.constant([1, 2, 3, 4, 5])
    results = []
    for model, x in ((full, padded), (compact, images)):
        with tf.GradientTape() as tape:
            logits = model((x, task) if with_task else x, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        results.append((logits.numpy(), tape.gradient(loss, model.trainable_variables)))
    (logits, grads), (compact_logits, compact_grads) = results
    np.testing.assert_allclose(compact_logits, logits, rtol=1e-4, atol=1e-5)
    # The uncarried rows' gradients in the full model are zero: holding them out of
    # training changes nothing.
    for g, c in zip(grads, _in_full_shape(compact, compact_grads)):
        np.testing.assert_allclose(c, tf.convert_to_tensor(g).numpy(), rtol=1e-3, atol=2e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "rmsprop"])
def test_training_on_the_carried_channels_moves_the_weights_as_the_full_model(optimizer):
    """The full model's rows for the uncarried channels never move under any optimizer, which
    is why the carried model holds them out of training; the other weights move alike
    (Adam and RMSprop divide by the gradients' size, so the tiny rounding differences of
    summing over three channels or one grow in their near-zero coordinates: checked
    for the two optimizers that do not)."""
    from training.steps import make_optimizer, train_step

    images = tf.random.stateless_uniform((8, 28, 28, 1), seed=(6, 7))
    labels = tf.constant([0, 1, 2, 3, 4, 5, 6, 7])
    weights = []
    for carried, x in (((0, 1), images), (None, tf.pad(images, [[0, 0]] * 3 + [[0, 2]]))):
        model = build_model(("fc", "fc"), input_shape=(28, 28, 3), carried=carried,
                            keep_prob=1.0, seed=2)
        start = [v.numpy() for v in model.trainable_variables]
        step = make_optimizer(optimizer, 0.05)
        step.build(model.trainable_variables)
        for _ in range(3):
            train_step(model, step, x, labels)
        weights.append(_in_full_shape(model, model.trainable_variables))
    layer = build_model(("fc", "fc"), input_shape=(28, 28, 3),
                        carried=(0, 1)).get_layer("layer1_fc")
    full_kernel, full_start = weights[1][0], start[0]
    np.testing.assert_array_equal(full_kernel[layer.uncarried_rows],
                                  full_start[layer.uncarried_rows])
    assert not np.allclose(full_kernel[layer.carried_rows], full_start[layer.carried_rows])
    if optimizer in ("sgd", "momentum"):
        for compact, full in zip(*weights):
            np.testing.assert_allclose(compact, full, rtol=1e-5, atol=1e-6)
