"""IAF: the inverse of MAF, checked by the same mathematics (bijection,
log-det, bijector path, normalization after training, XLA, export)."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks import flows
from tests.models.autoregressive.common import check_export_in_fresh_process, randomize
from tfdgm.models import IAF, MAF


def test_chain_passes_round_trip_and_autodiff_log_det_checks():
    flows.check_bijector_on_random_weights(IAF)


@pytest.mark.parametrize("num_classes", [None, 3])
def test_sample_log_prob_equals_base_minus_log_det_along_the_bijector_path(num_classes):
    flows.check_sample_log_prob_matches_bijector_path(IAF, num_classes)


def test_iaf_layer_is_the_inverse_of_the_maf_layer_with_the_same_weights():
    """Sampling direction of IAF = density direction of MAF (Papamakarios et al. 2017, Sec. 3.2)."""
    maf = randomize(MAF(event_shape=(5,), hidden_units=[16], num_layers=1), 0.3)
    iaf = IAF(event_shape=(5,), hidden_units=[16], num_layers=1)
    iaf.build((None, 5))
    iaf.set_weights(maf.get_weights())
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    np.testing.assert_allclose(iaf.decode(x).numpy(), maf.encode(x).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(iaf.encode(x).numpy(), maf.decode(x).numpy(), rtol=1e-4, atol=1e-4)


def test_every_layer_starts_at_the_identity():
    flows.check_identity_at_initialization(IAF)


def test_trained_on_two_moons_integrates_to_one_and_beats_a_gaussian():
    flows.check_trained_density_integrates_and_beats_gaussian(IAF, epochs=40)


@pytest.mark.xla
def test_train_step_compiles_with_xla():
    """The D-pass inverse (a tf.while_loop with a static trip count) lowers to XLA."""
    flows.check_train_step_compiles_with_xla(IAF)


@pytest.mark.parametrize("num_classes", [None, 2])
def test_export_reloads_in_fresh_process_importing_only_tensorflow(tmp_path, num_classes):
    model = randomize(IAF(event_shape=(3,), hidden_units=[8], num_layers=2, batch_norm=True,
                          num_classes=num_classes), 0.3)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    labels = None if num_classes is None else np.array([1, 0, 1, 1], np.int32)
    check_export_in_fresh_process(model, x, tmp_path, labels)
