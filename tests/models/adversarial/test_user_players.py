"""User-supplied generator / critic Keras models: used as given, trained, checked, saved."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfdgm.models import GAN, WGANGP, CycleGAN


def _image_players(noise_dim=6, shape=(8, 8, 1)):
    z = keras.Input((noise_dim,))
    h = keras.layers.Dense(4 * 4 * 3)(z)
    h = keras.layers.Reshape((4, 4, 3))(h)
    h = keras.layers.UpSampling2D()(h)
    images = keras.layers.Conv2D(shape[-1], 3, padding="same", activation="tanh")(h)
    generator = keras.Model(z, images, name="user_generator")
    x = keras.Input(shape)
    h = keras.layers.Conv2D(4, 3, strides=2, padding="same")(x)
    h = keras.layers.LeakyReLU(0.2)(h)
    scores = keras.layers.Dense(1)(keras.layers.Flatten()(h))
    return generator, keras.Model(x, scores, name="user_critic")


def test_user_players_are_the_models_trained_and_generate_calls():
    generator, critic = _image_players()
    model = WGANGP(event_shape=(8, 8, 1), generator=generator, discriminator=critic, n_critic=2)
    assert model.noise_dim == 6  # from the generator's input
    model.compile()
    before = [w.numpy().copy() for w in generator.trainable_weights + critic.trainable_weights]
    images = np.random.default_rng(0).uniform(-1, 1, size=(32, 8, 8, 1)).astype(np.float32)
    model.fit(images, batch_size=16, epochs=1, verbose=0)
    assert model.generator is generator and model.discriminator is critic
    after = [w.numpy() for w in generator.trainable_weights + critic.trainable_weights]
    # Every user weight moved but the critic's output bias: E[f(G(z))] - E[f(x)] and the
    # gradient penalty do not change when f is shifted by a constant, so its gradient is 0.
    assert all(np.any(a != b) for a, b in zip(after[:-1], before[:-1]))
    np.testing.assert_array_equal(after[-1], before[-1])
    assert int(model.discriminator_optimizer.iterations) == 2 * 2
    z = np.random.default_rng(1).normal(size=(3, 6)).astype(np.float32)
    np.testing.assert_allclose(model.generate(z), generator(z, training=False), rtol=1e-6)
    np.testing.assert_allclose(model.discriminate(tf.constant(images[:5])), critic(images[:5])[:, 0], rtol=1e-6)


def test_a_flat_user_critic_sees_flattened_examples():
    critic = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, use_bias=False)])
    model = GAN(event_shape=(2, 2), discriminator=critic)
    model.build()
    x = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    weights = critic.layers[-1].kernel.numpy()[:, 0]
    np.testing.assert_allclose(model.discriminate(tf.constant(x)), x.reshape(2, 4) @ weights, rtol=1e-5, atol=1e-6)


def test_user_players_of_the_wrong_shape_are_refused():
    generator, critic = _image_players()
    with pytest.raises(ValueError, match="input width 6"):
        WGANGP(event_shape=(8, 8, 1), noise_dim=5, generator=generator).build()
    with pytest.raises(ValueError, match=r"16 values per example.*\[None, 8, 8, 1\]"):
        WGANGP(event_shape=(4, 4, 1), generator=generator).build()
    wide = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"\[batch, 1\]"):
        WGANGP(event_shape=(8, 8, 1), discriminator=wide).build()
    with pytest.raises(ValueError, match="Keras model"):
        GAN(event_shape=(2,), generator=lambda z: z)
    with pytest.raises(ValueError, match="builds its own players"):
        CycleGAN(event_shape=(4,), generator=generator)


def test_user_players_survive_keras_save_and_load(tmp_path):
    generator, critic = _image_players()
    model = WGANGP(event_shape=(8, 8, 1), generator=generator, discriminator=critic)
    model.build()
    path = str(tmp_path / "user_players.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    z = np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32)
    np.testing.assert_allclose(loaded.generate(z), model.generate(z), rtol=1e-6)
    assert loaded.generator.name == "user_generator" and loaded.discriminator.name == "user_critic"
