"""The compiled training step and its optimizers."""

import numpy as np
import pytest
import tensorflow as tf

from models import build_model
from training.steps import SGD, Adam, make_optimizer, train_steps


@pytest.mark.parametrize("network,momentum", [(("fc", "fc"), 0.0), (("conv:4", "fc"), 0.0),
                                              (("fc", "fc"), 0.9)])
def test_the_fused_sgd_moves_the_weights_exactly_as_keras_sgd(network, momentum):
    images = tf.random.stateless_uniform((20, 28, 28, 1), seed=(3, 4))
    labels = tf.constant(list(range(10)) * 2)
    weights = []
    for optimizer in (SGD(0.05, momentum=momentum),
                      tf.keras.optimizers.SGD(0.05, momentum=momentum)):
        model = build_model(network, input_shape=(28, 28, 1), keep_prob=1.0, seed=5)
        optimizer.build(model.trainable_variables)
        batches = iter(tf.data.Dataset.from_tensor_slices((images, labels)).batch(10).repeat())
        losses, _ = train_steps(model, optimizer, batches, tf.constant(4))
        assert np.all(np.isfinite(losses.numpy()))
        weights.append([v.numpy() for v in model.trainable_variables])
    start = build_model(network, input_shape=(28, 28, 1), keep_prob=1.0, seed=5).get_weights()
    for fused, keras, initial in zip(*weights, start):
        np.testing.assert_array_equal(fused, keras)
        assert not np.array_equal(fused, initial)



def test_the_fused_adam_moves_the_weights_as_keras_adam():
    """Keras's Adam and the fused kernel compute the same update; they round 1 - beta
    differently (float32 against Python's double), so after 20 steps of a conv net the
    weights agree to float rounding, not to the bit, and both have moved."""
    images = tf.random.stateless_uniform((20, 28, 28, 1), seed=(3, 4))
    labels = tf.constant(list(range(10)) * 2)
    weights = []
    for optimizer in (Adam(0.001, epsilon=1e-8), tf.keras.optimizers.Adam(0.001, epsilon=1e-8)):
        model = build_model(("conv:4", "fc:32", "fc"), input_shape=(28, 28, 1), keep_prob=1.0,
                            seed=5)
        optimizer.build(model.trainable_variables)
        batches = iter(tf.data.Dataset.from_tensor_slices((images, labels)).batch(10).repeat())
        train_steps(model, optimizer, batches, tf.constant(20))
        weights.append([v.numpy() for v in model.trainable_variables])
    start = build_model(("conv:4", "fc:32", "fc"), input_shape=(28, 28, 1), keep_prob=1.0,
                        seed=5).get_weights()
    for fused, keras, initial in zip(*weights, start):
        np.testing.assert_allclose(fused, keras, rtol=1e-4, atol=1e-5)
        assert np.abs(fused - initial).max() > 1e-3


@pytest.mark.parametrize("name,fused", [("sgd", True), ("sgd", False), ("adam", True),
                                        ("adam", False)])
def test_the_learning_rate_drops_from_each_given_step_on(name, fused):
    optimizer = make_optimizer(name, 1.0, fused=fused, drops=(2, 4), drop=0.1)
    variable = tf.Variable(0.0)
    optimizer.build([variable])
    rates = []
    for _ in range(6):
        rates.append(float(optimizer.learning_rate))
        optimizer.apply_gradients([(tf.constant(-1.0), variable)])
    np.testing.assert_allclose(rates, [1.0, 1.0, 0.1, 0.1, 0.01, 0.01], rtol=1e-6)
    if name == "sgd":  # Each step moved the weight by the rate of its own step.
        assert float(variable.numpy()) == pytest.approx(sum(rates), rel=1e-6)
