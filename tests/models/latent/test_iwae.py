"""IWAE: its training bound is L_k (k = 1 is the Monte Carlo ELBO), it trains
under XLA, and training on L_k raises L_k."""

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import recording_xla_traces
from tfdgm.inference import bounds
from tfdgm.models import IWAE, VAE


def _toy_binary(n=512, dims=10, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = (rng.uniform(size=(4, dims)) < 0.5).astype(np.float32)
    x = prototypes[rng.integers(0, 4, n)]
    return np.abs(x - (rng.uniform(size=x.shape) < 0.05)).astype(np.float32)


def test_training_bound_is_the_k_sample_bound_and_k1_is_the_mc_elbo():
    x = tf.constant(_toy_binary(16))
    seed = tf.constant([5, 0])
    iwae = IWAE(event_shape=(10,), hidden_units=[8], latent_dim=3, num_importance_samples=7)
    iwae.build()
    bound, _ = iwae.training_bound(x, seed)
    np.testing.assert_allclose(bound, bounds.iwae_bound(iwae.log_importance_weights(x, seed, 0, 7)), rtol=1e-6)
    np.testing.assert_allclose(bound, iwae.log_prob(x, num_samples=7, seed=seed), rtol=1e-5)

    one = IWAE(event_shape=(10,), hidden_units=[8], latent_dim=3, num_importance_samples=1)
    vae = VAE(event_shape=(10,), hidden_units=[8], latent_dim=3, analytic_kl=False)
    one.build(), vae.build()
    vae.set_weights(one.get_weights())
    np.testing.assert_allclose(one.training_bound(x, seed)[0], vae.training_bound(x, seed)[0], rtol=1e-5)


@pytest.mark.xla
def test_iwae_training_raises_its_bound_under_xla():
    x = _toy_binary()
    model = IWAE(event_shape=(10,), hidden_units=[32], latent_dim=2, num_importance_samples=5)
    before = float(tf.reduce_mean(model.log_prob(x, num_samples=50, seed=0)))
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01))
    assert model.jit_compile is True
    with recording_xla_traces(model) as traced:
        history = model.fit(x, batch_size=64, epochs=10, verbose=0)
    after = float(tf.reduce_mean(model.log_prob(x, num_samples=50, seed=0)))
    assert after > before + 1.0, (before, after)
    assert history.history["nll"][-1] < history.history["nll"][0]
    assert traced and all(traced), traced  # fit traced its train step inside XLA


def test_iwae_refuses_a_kl_weight():
    with pytest.raises(ValueError, match="expected beta=1, kl_warmup_steps=0"):
        IWAE(event_shape=(4,), beta=0.5)
    with pytest.raises(ValueError, match="expected num_importance_samples >= 1, got 0"):
        IWAE(event_shape=(4,), num_importance_samples=0)
