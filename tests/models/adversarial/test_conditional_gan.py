"""ConditionalGAN: the label steers the generator to its own mode."""

import keras
import numpy as np
import pytest

from tfdgm.data import load_arrays
from tfdgm.metrics.coverage import toy_modes
from tfdgm.models import ConditionalGAN


def test_each_label_generates_its_own_gaussian():
    x, labels = load_arrays("8gaussians")
    keras.utils.set_random_seed(0)
    model = ConditionalGAN(event_shape=(2,), num_classes=8, hidden_units=(64, 64), noise_dim=8)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    model.fit(x[:8192], labels[:8192], batch_size=256, epochs=20, verbose=0)
    centres, std = toy_modes("8gaussians")
    for label in range(8):
        samples = model.generate(200, seed=label, context=label).numpy()
        nearest = np.argmin(np.linalg.norm(samples[:, None] - centres[None], axis=-1), 1)
        assert np.mean(nearest == label) > 0.8, (label, np.bincount(nearest, minlength=8))


def test_labels_are_checked_and_default_to_every_class_in_turn():
    model = ConditionalGAN(event_shape=(2,), num_classes=3)
    assert model.generate(6, seed=0).shape == (6, 2)
    np.testing.assert_allclose(model.generate(6, seed=0), model.generate(6, seed=0, context=[0, 1, 2, 0, 1, 2]), rtol=1e-6)
    with pytest.raises(ValueError, match=r"labels in \[0, 3\)"):
        model.generate(2, context=[0, 3])
    model.compile()
    with pytest.raises(ValueError, match="labelled batches"):
        model.fit(np.zeros((8, 2), np.float32), verbose=0)


def test_conditional_dcgan_players_on_images():
    model = ConditionalGAN(event_shape=(8, 8, 1), num_classes=10, noise_dim=8, base_filters=8)
    model.compile()
    x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype(np.float32)
    history = model.fit(x, np.arange(32) % 10, batch_size=16, verbose=0)
    assert model.architecture == "dcgan" and np.isfinite(history.history["d_loss"][0])
    assert model.generate(4, seed=1, context=3).shape == (4, 8, 8, 1)
