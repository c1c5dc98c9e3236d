"""MAF: exact bijection and log-det, the bijector path, training on two moons,
the conditional variant, batch norm, XLA and export."""

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.jacobian import batch_jacobian
from tests.checks import flows
from tests.models.autoregressive.common import check_export_in_fresh_process, grid_mass, randomize, two_moons
from tfdgm.models import MAF
from tfdgm.models.autoregressive import REGISTRY


def test_registry_names_the_masked_autoregressive_models():
    import tfdgm.models

    assert {"made", "maf", "iaf"} <= set(REGISTRY)
    assert tfdgm.models.get("maf") is MAF


def test_chain_passes_round_trip_and_autodiff_log_det_checks():
    flows.check_bijector_on_random_weights(MAF)


def test_conditional_chain_passes_the_bijector_check_for_each_label():
    from tests.checks.bijectors import assert_bijector_correct

    model = randomize(MAF(event_shape=(3,), hidden_units=[8], num_layers=2, num_classes=2), 0.3)
    z = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    for label in (0, 1):
        assert_bijector_correct(model.bijector(np.full([4], label)), z, event_ndims=1,
                                copies=lambda n, label=label: model.bijector(np.full([4 * n], label)))


@pytest.mark.parametrize("num_classes", [None, 3])
def test_sample_log_prob_equals_base_minus_log_det_along_the_bijector_path(num_classes):
    flows.check_sample_log_prob_matches_bijector_path(MAF, num_classes)


def test_every_layer_starts_at_the_identity():
    flows.check_identity_at_initialization(MAF)


def test_log_scale_is_bounded_even_with_huge_weights():
    model = randomize(MAF(event_shape=(6,), hidden_units=[16], num_layers=2, log_scale_bound=3.0), scale=50.0)
    x = np.random.default_rng(0).normal(size=(16, 6)).astype(np.float32) * 14
    _, log_scale = model.networks[0].shift_and_log_scale(x)
    assert np.max(np.abs(log_scale.numpy())) <= 3.0 + 1e-6
    assert np.all(np.isfinite(model.log_prob(x).numpy()))


def test_trained_on_two_moons_integrates_to_one_and_beats_a_gaussian():
    flows.check_trained_density_integrates_and_beats_gaussian(MAF, epochs=80)


def test_batch_norm_training_updates_statistics_and_evaluation_is_exact():
    x, _ = two_moons(1024, seed=0)
    model = MAF(event_shape=(2,), num_layers=2, hidden_units=[16], batch_norm=True, batch_norm_momentum=0.5)
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3))
    model.fit(x * 3.0 + 1.0, batch_size=256, epochs=3, verbose=0)
    layer = model.batch_norms[0]
    # After 12 steps at momentum 0.5 the moving stats track the data's (mean 1, var ~9).
    np.testing.assert_allclose(layer.moving_mean.numpy(), [1.0, 1.0], atol=0.3)
    assert np.all(layer.moving_variance.numpy() > 5.0)
    # Evaluation uses the moving statistics: one example's density does not
    # depend on the batch around it, and the density is normalized.
    single = model.log_prob(x[:1] * 3.0 + 1.0).numpy()
    batch = model.log_prob(x[:64] * 3.0 + 1.0).numpy()
    np.testing.assert_allclose(single, batch[:1], rtol=1e-5)
    assert abs(grid_mass(model, -12.0, 14.0, 801) - 1.0) < 0.02


def test_conditional_maf_depends_on_the_label_and_normalizes_for_each():
    x, labels = two_moons(2048, seed=0)
    model = MAF(event_shape=(2,), num_layers=3, hidden_units=[32, 32], num_classes=2)
    model.compile(optimizer=tf.keras.optimizers.Adam(5e-3))
    model.fit(x, labels, batch_size=256, epochs=15, verbose=0)
    right = model.log_prob(x, labels).numpy()
    wrong = model.log_prob(x, 1 - labels).numpy()
    assert np.mean(right) > np.mean(wrong) + 1.0  # the label tells the moons apart
    for label in (0, 1):
        assert abs(grid_mass(model, -6.0, 6.0, 601, context=label) - 1.0) < 0.02
    samples = model.sample(500, seed=0, context=1).numpy()
    assert np.mean(model.log_prob(samples, np.ones(500, np.int32)).numpy()) > np.mean(
        model.log_prob(samples, np.zeros(500, np.int32)).numpy()
    )


def test_unconditional_fit_ignores_labels_but_log_prob_refuses_a_context():
    x, labels = two_moons(256, seed=0)
    model = MAF(event_shape=(2,), num_layers=1, hidden_units=[8])
    model.compile()
    model.fit(x, labels, batch_size=64, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="expected no context"):
        model.log_prob(x, labels)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="expected num_layers a positive int, got 0"):
        MAF(event_shape=(2,), num_layers=0)
    with pytest.raises(ValueError, match="expected permutation in"):
        MAF(event_shape=(2,), permutation="shuffle")
    with pytest.raises(ValueError, match=r"expected x of shape \[batch, 2\], got shape \[3, 5\]"):
        MAF(event_shape=(2,)).log_prob(np.zeros([3, 5], np.float32))
    with pytest.raises(ValueError, match=r"expected a context of class labels in \[0, 4\), got None"):
        MAF(event_shape=(2,), num_classes=4).log_prob(np.zeros([3, 2], np.float32))
    with pytest.raises(ValueError, match="expected a model built with num_blocks=1"):
        MAF(event_shape=(6,), hidden_units=[16], num_blocks=4).resample_masks(0)  # the blocks fix the masks
    with pytest.raises(ValueError, match="expected num_blocks a positive int or 'auto', got 'many'"):
        MAF(event_shape=(6,), num_blocks="many")
    assert MAF(event_shape=(6,), hidden_units=[16]).num_blocks == 1  # "auto": small layers stay dense
    assert MAF(event_shape=(784,), hidden_units=[512]).num_blocks == 4


def test_dense_maf_resamples_masks_and_stays_a_correct_bijector():
    from tests.checks.bijectors import assert_bijector_correct

    model = randomize(MAF(event_shape=(6,), num_layers=2, hidden_units=[16], num_blocks=1))
    before = [layer.mask.numpy() for layer in model.networks[0].hidden_layers]
    model.resample_masks(3)
    after = [layer.mask.numpy() for layer in model.networks[0].hidden_layers]
    assert any(np.any(b != a) for b, a in zip(before, after))
    z = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
    assert_bijector_correct(model.bijector(), z, event_ndims=1)


@pytest.mark.xla
def test_train_step_compiles_with_xla():
    flows.check_train_step_compiles_with_xla(MAF)


def test_config_round_trip_and_default_hyperparameters():
    from tfdgm.data import DatasetInfo

    model = randomize(MAF(event_shape=(3,), hidden_units=[8], num_layers=2, permutation="random", batch_norm=True))
    clone = MAF.from_config(model.get_config())
    clone.build((None, 3))
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(clone.log_prob(x).numpy(), model.log_prob(x).numpy(), rtol=1e-5)
    image = DatasetInfo("fashion_mnist", (28, 28, 1), "image", 10, 256)
    toy = DatasetInfo("moons", (2,), "vector", 2, None)
    assert MAF.default_hyperparameters(image)["batch_norm"] is True
    assert MAF.default_preprocess(image) == "dequantize,scale,logit:1e-06"
    assert MAF.default_preprocess(toy) is None
    assert MAF(event_shape=(2,), **MAF.default_hyperparameters(toy)).log_prob(x[:, :2]).shape == (4,)


@pytest.mark.parametrize("num_classes", [None, 3])
def test_export_reloads_in_fresh_process_importing_only_tensorflow(tmp_path, num_classes):
    model = randomize(
        MAF(event_shape=(2, 2), hidden_units=[8], num_layers=2, batch_norm=True, num_classes=num_classes), 0.3
    )
    x = np.random.default_rng(0).normal(size=(4, 2, 2)).astype(np.float32)
    labels = None if num_classes is None else np.array([2, 0, 1, 2], np.int32)
    check_export_in_fresh_process(model, x, tmp_path, labels)


@pytest.mark.parametrize("order", ["natural", "reversed", "random"])
def test_block_sparse_masked_product_is_the_same_function_and_stays_autoregressive(order):
    """num_blocks > 1 multiplies only the non-zero blocks of W * M: with the
    dense kernel's entries copied into the blocks, outputs and gradients
    equal the dense layer's, and outputs still ignore inputs at or after them."""
    from tfdgm.nn.made import MADENetwork

    networks = {}
    for num_blocks in (1, 4):
        network = MADENetwork(num_params=2, hidden_units=[24, 20], order=order, zero_init_output=False,
                              log_scale_bound=None, seed=2, num_blocks=num_blocks)
        network.build((None, 12))
        networks[num_blocks] = network
    rng = np.random.default_rng(0)
    dense, blocked = networks[1], networks[4]
    layers = list(zip([*dense.hidden_layers, dense.output_layer], [*blocked.hidden_layers, blocked.output_layer]))
    assert all(b.blocks is not None for _, b in layers)
    for d, b in layers:
        d.kernel.assign(rng.normal(0.0, 0.5, d.kernel.shape).astype(np.float32))
        d.bias.assign(rng.normal(0.0, 0.5, d.bias.shape).astype(np.float32))
        b.bias.assign(d.bias)
        kernel = d.kernel.numpy()
        for variable, (rows, columns) in zip(b.kernel_blocks, [blk for blk in b.blocks if len(blk[0])]):
            variable.assign(kernel[np.ix_(rows, columns)])
        assert sum(v.shape[0] * v.shape[1] for v in b.kernel_blocks) < 0.85 * kernel.size  # fewer multiply-adds
    x = tf.constant(rng.normal(size=(5, 12)).astype(np.float32))
    jacobians = {}
    for num_blocks, network in networks.items():
        jacobians[num_blocks] = batch_jacobian(network, x)
    np.testing.assert_allclose(blocked(x).numpy(), dense(x).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jacobians[4], jacobians[1], rtol=1e-5, atol=1e-5)
    degrees = blocked.input_degrees
    jacobian = np.abs(jacobians[4]).max(axis=(0, 2))
    assert np.all(jacobian[degrees[None, :] >= degrees[:, None]] == 0.0)
    from tests.checks.bijectors import assert_bijector_correct

    model = randomize(MAF(event_shape=(6,), num_layers=2, hidden_units=[16], num_blocks=3))
    assert_bijector_correct(model.bijector(), rng.normal(size=(4, 6)).astype(np.float32), event_ndims=1)


def test_density_pass_calls_each_conditioner_once_with_tfps_values_and_gradients():
    """tfdgm's MAF bijector shares one network pass between the inverse and
    its log-det; log_prob and its gradients equal TFP's two-pass bijector's."""
    import tensorflow_probability as tfp

    from tfdgm.bijectors.autoregressive import MaskedAutoregressiveFlow

    model = randomize(MAF(event_shape=(5,), num_layers=3, hidden_units=[12]), 0.4)
    x = tf.constant(np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32))
    calls = []

    def counted(network):
        def fn(y):
            calls.append(network.name)
            return network.shift_and_log_scale(y)
        return fn

    def log_prob_and_gradients(bijector_class):
        chain = tfp.bijectors.Chain([bijector_class(counted(n)) for n in model.networks])
        distribution = tfp.distributions.TransformedDistribution(model.base_distribution(), chain)
        with tf.GradientTape() as tape:
            log_prob = distribution.log_prob(x)
            total = tf.reduce_sum(log_prob)
        return log_prob.numpy(), tape.gradient(total, model.trainable_variables)

    log_prob, gradients = log_prob_and_gradients(MaskedAutoregressiveFlow)
    assert sorted(calls) == sorted(n.name for n in model.networks)  # one pass per layer
    calls.clear()
    tfp_log_prob, tfp_gradients = log_prob_and_gradients(tfp.bijectors.MaskedAutoregressiveFlow)
    assert len(calls) == 2 * model.num_layers  # TFP's: two passes per layer
    np.testing.assert_allclose(log_prob, tfp_log_prob, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_prob, model.log_prob(x).numpy(), rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(gradients, tfp_gradients):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)
    assert all(np.abs(ours.numpy()).max() > 0 for ours in gradients)
