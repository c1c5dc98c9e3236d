"""WaveNet: causality and the receptive-field formula, exact normalization,
fast generation (per-layer queues) equal to naive generation, the sampler's
own log-probabilities, global conditioning, XLA, export."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.jacobian import batch_jacobian
from tests.helpers import binary_states, recording_xla_traces
from tests.models.autoregressive.common import check_export_in_fresh_process, randomize
from tfdgm.models import WaveNet
from tfdgm.models.autoregressive.wavenet import receptive_field


def _small(**options):
    options = {"event_shape": (40,), "num_levels": 16, "residual_channels": 8, "skip_channels": 8,
               "dilations": [1, 2, 4, 1, 2], **options}
    return randomize(WaveNet(**options), scale=0.4)


@pytest.mark.parametrize("kernel_size, initial_kernel_size", [(2, 2), (3, 1)])
def test_output_t_depends_exactly_on_the_receptive_field_before_t(kernel_size, initial_kernel_size):
    model = _small(kernel_size=kernel_size, initial_kernel_size=initial_kernel_size)
    window = model.receptive_field
    assert window == receptive_field([1, 2, 4, 1, 2], kernel_size, initial_kernel_size)
    assert window == (initial_kernel_size - 1) + (kernel_size - 1) * 10 + 1
    x = tf.one_hot(np.random.default_rng(0).integers(0, 16, size=(4, 40)), 16)
    weights = np.random.default_rng(1).normal(size=16).astype(np.float32)

    def logits(x):  # input t is x_{t-1} -> [batch, T]
        return tf.reduce_sum(model.network(tf.pad(x, [[0, 0], [1, 0], [0, 0]])[:, :-1]) * weights, -1)

    jacobian = np.abs(batch_jacobian(logits, x)).max(axis=(0, 3))  # [T out, T in]
    t, s = np.meshgrid(np.arange(40), np.arange(40), indexing="ij")
    inside = (s <= t - 1) & (s >= t - window)
    assert np.all(jacobian[~inside] == 0.0)
    assert np.all(jacobian[inside] > 0.0)


def test_distribution_sums_to_one_by_enumeration():
    model = _small(event_shape=(9,), num_levels=2, dilations=[1, 2])
    states = binary_states(9)
    total = float(tf.reduce_sum(tf.exp(tf.cast(model.log_prob(states), tf.float64))))
    assert abs(total - 1.0) < 1e-5


@pytest.mark.parametrize("num_classes", [None, 3])
def test_fast_generation_equals_naive_generation_for_the_same_seed(num_classes):
    model = _small(num_classes=num_classes)
    context = None if num_classes is None else 2
    fast, fast_log_prob = model.sample_with_log_prob(5, seed=7, context=context, method="fast")
    naive, naive_log_prob = model.sample_with_log_prob(5, seed=7, context=context, method="naive")
    np.testing.assert_array_equal(fast.numpy(), naive.numpy())
    np.testing.assert_allclose(fast_log_prob.numpy(), naive_log_prob.numpy(), rtol=1e-5)
    labels = None if num_classes is None else np.full(5, 2)
    # and both equal what the one-pass density says of these samples
    np.testing.assert_allclose(fast_log_prob.numpy(), model.log_prob(fast, labels).numpy(), rtol=1e-4, atol=1e-3)
    assert len(np.unique(fast.numpy())) > 3  # not a degenerate constant signal


def test_global_conditioning_changes_the_distribution():
    model = _small(num_classes=2)
    x = np.random.default_rng(0).integers(0, 16, size=(8, 40)).astype(np.float32)
    difference = model.log_prob(x, np.zeros(8, int)) - model.log_prob(x, np.ones(8, int))
    assert np.abs(difference.numpy()).max() > 0.1


def test_fit_on_a_fresh_model_learns_a_periodic_signal():
    phase = np.random.default_rng(0).integers(0, 8, 256)
    x = ((np.arange(32)[None, :] + phase[:, None]) % 8).astype(np.float32)  # saw-tooth 0..7
    model = WaveNet(event_shape=(32,), num_levels=8, residual_channels=16, skip_channels=16, dilations=[1, 2, 4])
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2))
    history = model.fit(x, batch_size=32, epochs=10, verbose=0)
    assert history.history["nll"][-1] < 0.25 * history.history["nll"][0]
    samples = model.sample(4, seed=0).numpy()
    steps = (np.diff(samples, axis=1) % 8)[:, 4:]
    assert np.mean(steps == 1) > 0.9  # the generated signal keeps counting up


@pytest.mark.xla
def test_train_step_compiles_with_xla():
    model = WaveNet(event_shape=(32,), num_levels=16, residual_channels=8, skip_channels=8, dilations=[1, 2],
                    num_classes=2)
    model.compile()
    assert model.jit_compile is True
    x = np.random.default_rng(0).integers(0, 16, size=(16, 32)).astype(np.float32)
    y = np.arange(16) % 2
    with recording_xla_traces(model) as traced:
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert traced and all(traced), traced  # fit traced its train step inside XLA


def test_config_round_trip_rebuilds_the_same_model():
    model = _small(num_classes=2, kernel_size=3)
    clone = WaveNet.from_config(model.get_config())
    clone.build()
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).integers(0, 16, size=(2, 40)).astype(np.float32)
    np.testing.assert_allclose(clone.log_prob(x, [0, 1]).numpy(), model.log_prob(x, [0, 1]).numpy(), rtol=1e-6)


@pytest.mark.parametrize("num_classes", [None, 3])
def test_export_reloads_in_fresh_process_importing_only_tensorflow(tmp_path, num_classes):
    model = _small(event_shape=(16,), num_classes=num_classes)
    x = np.random.default_rng(0).integers(0, 16, size=(4, 16)).astype(np.float32)
    labels = None if num_classes is None else np.array([2, 0, 1, 2], np.int32)
    check_export_in_fresh_process(model, x, tmp_path, labels)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match=r"expected event_shape \(T,\)"):
        WaveNet(event_shape=(4, 4))
    with pytest.raises(ValueError, match="expected dilations as a list of positive ints"):
        WaveNet(event_shape=(8,), dilations=[1, 0])
    with pytest.raises(ValueError, match="expected method 'fast' or 'naive'"):
        _small().sample(1, method="slow")
