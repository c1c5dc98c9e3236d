"""WGAN / WGAN-GP: clipping after every critic step, update counts, the gradient penalty by hand."""

import numpy as np
import pytest
import tensorflow as tf

from tfdgm.inference import adversarial as objectives
from tfdgm.models import GAN, WGAN, WGANGP


def _data(n=256, dim=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_weights_are_clipped_after_every_critic_step():
    model = WGAN(event_shape=(2,), hidden_units=(16,), n_critic=3, clip_value=0.02)
    model.build()
    for weight in model.discriminator.trainable_variables:  # start far outside the box
        weight.assign(tf.ones_like(weight))
    seen = []
    original = model.after_discriminator_step

    def checked():
        original()
        seen.append(max(float(tf.reduce_max(tf.abs(w))) for w in model.discriminator_variables()))

    model.after_discriminator_step = checked
    model.compile(optimizer="sgd", jit_compile=False, run_eagerly=True)
    model.fit(_data(), batch_size=64, epochs=1, verbose=0)
    assert len(seen) == 4 * 3  # 4 steps x n_critic
    assert max(seen) <= 0.02 + 1e-7


@pytest.mark.parametrize("model_class, n_critic", [(WGAN, 4), (WGANGP, 3), (GAN, 1)])
def test_critic_and_generator_update_counts_per_fit_step(model_class, n_critic):
    kwargs = {} if model_class is GAN else {"n_critic": n_critic}
    model = model_class(event_shape=(2,), hidden_units=(8,), **kwargs)
    model.compile()
    model.fit(_data(n=320), batch_size=64, epochs=2, verbose=0)  # 5 steps per epoch
    assert int(model.generator_optimizer.iterations) == 10
    assert int(model.discriminator_optimizer.iterations) == 10 * n_critic
    assert model.generator_optimizer is not model.discriminator_optimizer


def test_gradient_penalty_of_a_linear_critic_is_exact():
    """f(x) = w.x + b has gradient w everywhere: GP = (||w|| - 1)^2."""
    w = np.array([3.0, -4.0], np.float32)  # ||w|| = 5
    critic = lambda x: tf.linalg.matvec(x, tf.constant(w)) + 1.0  # noqa: E731
    penalty = objectives.gradient_penalty(critic, tf.constant(_data(8)), tf.constant(_data(8, seed=1)), [1, 2])
    np.testing.assert_allclose(float(penalty), 16.0, rtol=1e-5)


def test_gradient_penalty_matches_a_hand_computation_on_a_tiny_critic():
    """f(x) = sum_i tanh(a_i x_i): grad_i = a_i (1 - tanh^2(a_i x̂_i)) at the interpolates."""
    a = np.array([0.5, -2.0, 1.5], np.float32)
    critic = lambda x: tf.reduce_sum(tf.tanh(x * a), -1)  # noqa: E731
    real, fake, seed = _data(6, 3, seed=2), _data(6, 3, seed=3), tf.constant([7, 9])
    penalty = float(objectives.gradient_penalty(critic, tf.constant(real), tf.constant(fake), seed))
    epsilon = tf.random.stateless_uniform([6, 1], seed=seed).numpy()  # the same draw as inside
    x_hat = epsilon * real + (1 - epsilon) * fake
    gradient = a * (1 - np.tanh(a * x_hat) ** 2)
    expected = np.mean((np.linalg.norm(gradient, axis=1) - 1) ** 2)
    np.testing.assert_allclose(penalty, expected, rtol=1e-5)


def test_gradient_penalty_is_differentiable_and_reported():
    model = WGANGP(event_shape=(2,), hidden_units=(8,), n_critic=1)
    model.compile()
    history = model.fit(_data(), batch_size=64, epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "gradient_penalty"}
    assert history.history["gradient_penalty"][0] > 0


def test_optimizer_defaults_follow_the_papers():
    wgan, wgan_gp = WGAN(), WGANGP()
    wgan.compile()
    wgan_gp.compile()
    assert type(wgan.discriminator_optimizer).__name__ == "RMSprop"
    np.testing.assert_allclose(float(wgan.discriminator_optimizer.learning_rate), 5e-5)
    assert (wgan.n_critic, wgan.clip_value) == (5, 0.01)
    assert float(wgan_gp.generator_optimizer.beta_1) == 0.0 and float(wgan_gp.generator_optimizer.beta_2) == 0.9
    # Vectors: Alg. 1's n_critic and betas, a larger step and a smaller penalty (see WGANGP's docstring).
    np.testing.assert_allclose(float(wgan_gp.discriminator_optimizer.learning_rate), 1e-3)
    assert (wgan_gp.n_critic, wgan_gp.gradient_penalty_weight) == (5, 1.0)
    images = WGANGP(event_shape=(8, 8, 1))  # Gulrajani et al. 2017, Alg. 1's default values
    images.compile()
    np.testing.assert_allclose(float(images.generator_optimizer.learning_rate), 1e-4)
    assert (images.n_critic, images.gradient_penalty_weight, images.architecture) == (5, 10.0, "dcgan")
    assert float(images.discriminator_optimizer.beta_1) == 0.0
