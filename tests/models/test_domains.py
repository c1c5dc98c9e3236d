"""Data domains: each model refuses data its likelihood is not defined on, with
one `ValueError` naming the model, the domain and what it found; traced (XLA)
train steps are left without checks."""

import numpy as np
import pytest
import tensorflow as tf

from tfdgm.data import toy2d
from tfdgm.models import (MADE, NADE, VAE, BernoulliRBM, ConvRBM, GatedPixelCNN, IndependentBernoulli, MAF, PixelCNN,
                          ReplicatedSoftmaxRBM, WaveNet, domains)


def _moons(n=64):
    return np.array(toy2d.toy_split("moons", "train")[0][:n])


@pytest.mark.parametrize("make, kind", [
    (lambda: MADE(event_shape=(2,)), "binary"),
    (lambda: MADE(event_shape=(2,), likelihood="gaussian"), "continuous"),
    (lambda: NADE(event_shape=(2,), likelihood="gaussian_mixture"), "continuous"),
    (lambda: PixelCNN(event_shape=(2, 2, 1), likelihood="logistic_mixture", num_levels=16), "levels"),
    (lambda: GatedPixelCNN(event_shape=(2, 2, 1), num_levels=17), "levels"),
    (lambda: WaveNet(event_shape=(4,), num_levels=8), "levels"),
    (lambda: VAE(event_shape=(2,)), "binary"),
    (lambda: VAE(event_shape=(2,), likelihood="gaussian"), "continuous"),
    (lambda: ReplicatedSoftmaxRBM(event_shape=(3,)), "counts"),
    (lambda: MAF(event_shape=(2,)), "continuous"),
    (lambda: ConvRBM(image_shape=(4, 4, 1), num_filters=2, filter_size=3), "binary"),
    (lambda: ConvRBM(image_shape=(4, 4, 1), num_filters=2, filter_size=3, visible="gaussian"), "continuous"),
], ids=["made", "made_gaussian", "nade_mixture", "pixelcnn_logistic", "gated_pixelcnn", "wavenet", "vae",
        "vae_gaussian", "rsm", "maf", "conv_rbm", "conv_rbm_gaussian"])
def test_the_likelihood_decides_the_domain(make, kind):
    model = make()
    domain = domains.domain_of(model)
    assert domain.kind == kind
    if kind == "levels":
        assert domain.num_levels == model.num_levels


def test_made_refuses_continuous_two_moons_at_fit_and_log_prob():
    model = MADE(event_shape=(2,))
    model.compile(jit_compile=False)
    x = _moons()
    message = (r"MADE models binary data in \{0, 1\}; "
               rf"got training data with values in \[{x.min():.4g}, {x.max():.4g}\]")
    with pytest.raises(ValueError, match=message):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match=r"MADE models binary data in \{0, 1\}; got x with values in"):
        model.log_prob(x)
    assert int(model.optimizer.iterations) == 0  # refused before any step


def test_the_whole_array_is_checked_not_only_its_first_rows():
    x = np.zeros((64, 4), np.float32)
    x[-1, -1] = 0.5
    model = IndependentBernoulli(event_shape=(4,))
    model.compile(jit_compile=False)
    with pytest.raises(ValueError, match=r"IndependentBernoulli models binary data in \{0, 1\}; got training data"):
        model.fit(x, verbose=0)


@pytest.mark.parametrize("value, found", [(-1.0, r"values in \[-1, 2\]"), (0.5, r"non-integer values \(e\.g\. 0\.5\)")])
def test_replicated_softmax_refuses_negative_or_fractional_counts(value, found):
    model = ReplicatedSoftmaxRBM(event_shape=(3,), num_hidden=2)
    v = np.array([[value, 1.0, 2.0]], np.float32)
    message = rf"ReplicatedSoftmaxRBM models counts \(non-negative integers\); got v with {found}"
    with pytest.raises(ValueError, match=message):
        model.free_energy(v)
    model.free_energy(np.array([[0.0, 1.0, 2.0]], np.float32))  # counts pass


def test_a_256_way_categorical_refuses_level_300():
    model = GatedPixelCNN(event_shape=(2, 2, 1), num_filters=2, num_layers=1)
    x = np.full((1, 2, 2, 1), 300.0, np.float32)
    message = r"GatedPixelCNN models integer levels in \[0, 256\); got x with values in \[300, 300\]"
    with pytest.raises(ValueError, match=message):
        model.log_prob(x)
    assert np.isfinite(model.log_prob(np.full((1, 2, 2, 1), 255.0, np.float32)).numpy()).all()


def test_a_dataset_is_checked_on_its_first_batch():
    model = BernoulliRBM(event_shape=(2,), num_hidden=2)
    model.compile()
    dataset = tf.data.Dataset.from_tensor_slices(_moons()).batch(16)
    with pytest.raises(ValueError, match=r"BernoulliRBM models binary data in \{0, 1\}; got x with values in"):
        model.fit(dataset, verbose=0)
    labelled = tf.data.Dataset.from_tensor_slices((_moons(), np.zeros(64, np.int64))).batch(16)
    with pytest.raises(ValueError, match="BernoulliRBM models binary data"):
        model.fit(labelled, verbose=0)


def test_nan_is_outside_every_domain():
    with pytest.raises(ValueError, match="MAF models finite real data; got x with 1 NaN/inf values"):
        MAF(event_shape=(2,)).log_prob(np.array([[np.nan, 0.0]], np.float32))
    with pytest.raises(ValueError, match=r"VAE models binary data in \{0, 1\}; got x with 1 NaN/inf values"):
        VAE(event_shape=(2,)).elbo(np.array([[np.nan, 0.0]], np.float32))


@pytest.mark.xla
def test_traced_and_xla_steps_carry_no_check():
    """Symbolic tensors pass unchecked: the check adds no ops to a compiled
    function, which then runs (and trains) on data it was traced for."""
    model = IndependentBernoulli(event_shape=(3,))
    model.build((None, 3))
    compiled = tf.function(lambda x: model.log_prob(x), jit_compile=True)
    assert np.isfinite(compiled(tf.constant([[0.0, 1.0, 1.0]])).numpy()).all()
    graph = tf.function(model.log_prob).get_concrete_function(tf.TensorSpec([None, 3], tf.float32)).graph
    assert not any(op.type in ("Assert", "IsFinite") for op in graph.get_operations())
    model.compile(jit_compile=True)
    history = model.fit((np.random.default_rng(0).uniform(size=(16, 3)) < 0.5).astype(np.float32), batch_size=8,
                        verbose=0)
    assert np.isfinite(history.history["nll"][-1])
