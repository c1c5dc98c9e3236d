"""The one-pass bijector base: each TFP call sequence runs a layer's network
once, the densities are the paper's, and the cache is per instance and per
graph (eager, `tf.function`, XLA, re-tracing)."""

import gc
import weakref

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.bijectors.autoregressive import MaskedAutoregressiveFlow
from tfdgm.bijectors.coupling import AffineCoupling, CouplingLayer, vector_mask
from tfdgm.nn.coupling_nets import MLPCouplingNet
from tfdgm.nn.made import MADENetwork

tfd = tfp.distributions
tfb = tfp.bijectors

DIMS = 4
NUM_LAYERS = 3


def _randomize(layer, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    for weight in layer.trainable_variables:
        weight.assign(rng.normal(0.0, scale, weight.shape).astype(np.float32))


def _coupling_layers():
    layers = []
    for k in range(NUM_LAYERS):
        layer = CouplingLayer(vector_mask(DIMS, k % 2), MLPCouplingNet(2 * DIMS, [16]), name=f"coupling_{k}")
        layer.build((None, DIMS))
        _randomize(layer, seed=k)
        layers.append(layer)
    return layers


def _made_networks():
    networks = []
    for k in range(NUM_LAYERS):
        network = MADENetwork(hidden_units=[16], order="natural" if k % 2 == 0 else "reversed", name=f"made_{k}")
        network.build((None, DIMS))
        _randomize(network, seed=10 + k)
        networks.append(network)
    return networks


class Counter:
    """Counts the Python calls of each conditioner (traced calls inside a `tf.function`)."""

    def __init__(self):
        self.calls = []

    def coupling(self, layer):
        def fn(x):
            self.calls.append(layer.name)
            return layer._apply_network(x)
        return AffineCoupling(layer.mask, fn, layer.log_scale_bound)

    def maf(self, network):
        def fn(x):
            self.calls.append(network.name)
            return network.shift_and_log_scale(x)
        return MaskedAutoregressiveFlow(fn)


def _distribution(kind, counter, parts):
    make = counter.coupling if kind == "coupling" else counter.maf
    base = tfd.MultivariateNormalDiag(tf.zeros(DIMS))
    return tfd.TransformedDistribution(base, tfb.Chain([make(part) for part in parts]))


def _log_prob_by_hand(kind, parts, x):
    """log p(x) = log N(u; 0, I) + sum_k log|det du_k/dx_k| with each layer's
    log-det written from the paper, on the raw network outputs (no bijector)."""
    x = tf.convert_to_tensor(x)
    total = tf.zeros(tf.shape(x)[:1])
    for part in parts:  # the data -> noise direction: the Chain inverts parts[0] first
        if kind == "coupling":  # Dinh et al. 2016, eq. 6-9
            mask = part.mask
            shift, raw = part._apply_network(x * mask)
            log_scale = part.log_scale_bound * tf.tanh(raw / part.log_scale_bound)
            x = mask * x + (1.0 - mask) * (x - shift) * tf.exp(-log_scale)
            total -= tf.reduce_sum((1.0 - mask) * log_scale, -1)
        else:  # Papamakarios et al. 2017, eq. 4-5
            shift, log_scale = part.shift_and_log_scale(x)
            x = (x - shift) * tf.exp(-log_scale)
            total -= tf.reduce_sum(log_scale, -1)
    return tfd.MultivariateNormalDiag(tf.zeros(DIMS)).log_prob(x) + total


def _parts(kind):
    return _coupling_layers() if kind == "coupling" else _made_networks()


def _data(batch=5, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(size=(batch, DIMS)).astype(np.float32))


@pytest.mark.parametrize("kind", ["coupling", "maf"])
def test_log_prob_runs_each_network_once_and_equals_the_papers_density(kind):
    parts, counter, x = _parts(kind), Counter(), _data()
    log_prob = _distribution(kind, counter, parts).log_prob(x)
    assert sorted(counter.calls) == sorted(part.name for part in parts)
    np.testing.assert_allclose(log_prob.numpy(), _log_prob_by_hand(kind, parts, x).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["coupling", "maf"])
def test_sample_and_log_prob_adds_no_pass_for_the_log_det(kind):
    """Coupling: one pass per layer. MAF: the D sampling passes per layer and
    no more; the last pass's log-scale is the exact one, so the density
    equals a fresh evaluation at the sample."""
    parts, counter = _parts(kind), Counter()
    sample, log_prob = _distribution(kind, counter, parts).experimental_sample_and_log_prob(6, seed=[1, 2])
    passes = 1 if kind == "coupling" else DIMS
    assert sorted(counter.calls) == sorted(part.name for part in parts for _ in range(passes))
    np.testing.assert_allclose(log_prob.numpy(), _log_prob_by_hand(kind, parts, sample).numpy(),
                               rtol=1e-4, atol=1e-4)
    fresh = _distribution(kind, Counter(), parts).log_prob(tf.identity(sample))
    np.testing.assert_allclose(log_prob.numpy(), fresh.numpy(), rtol=1e-4, atol=1e-4)


def test_tfps_maf_takes_one_more_pass_per_layer_in_both_directions():
    """The baseline the counts above improve on (TFP's own bijector)."""
    networks, calls = _made_networks(), []

    def counted(network):
        def fn(x):
            calls.append(network.name)
            return network.shift_and_log_scale(x)
        return fn

    base = tfd.MultivariateNormalDiag(tf.zeros(DIMS))
    chain = tfb.Chain([tfb.MaskedAutoregressiveFlow(counted(n)) for n in networks])
    tfd.TransformedDistribution(base, chain).log_prob(_data())
    assert len(calls) == 2 * NUM_LAYERS
    calls.clear()
    tfd.TransformedDistribution(base, chain).experimental_sample_and_log_prob(6, seed=[1, 2])
    assert len(calls) == (DIMS + 1) * NUM_LAYERS


@pytest.mark.parametrize("kind", ["coupling", "maf"])
def test_xla_compiled_log_prob_and_gradient_trace_each_network_once(kind):
    parts, counter, x = _parts(kind), Counter(), _data()
    variables = [v for part in parts for v in part.trainable_variables]

    @tf.function(jit_compile=True)
    def log_prob_and_gradients(x):
        with tf.GradientTape() as tape:
            log_prob = _distribution(kind, counter, parts).log_prob(x)
            loss = -tf.reduce_mean(log_prob)
        return log_prob, tape.gradient(loss, variables)

    log_prob, gradients = log_prob_and_gradients(x)
    assert sorted(counter.calls) == sorted(part.name for part in parts)
    with tf.GradientTape() as tape:
        expected = _log_prob_by_hand(kind, parts, x)
        loss = -tf.reduce_mean(expected)
    np.testing.assert_allclose(log_prob.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    for ours, by_hand in zip(gradients, tape.gradient(loss, variables)):
        np.testing.assert_allclose(ours.numpy(), by_hand.numpy(), rtol=1e-4, atol=1e-5)
    log_prob_and_gradients(_data(batch=7, seed=1))  # a re-trace with a new shape
    assert len(counter.calls) == 2 * NUM_LAYERS


def test_one_bijector_used_eagerly_and_in_several_graphs_never_mixes_their_tensors():
    """A bijector built once, given the same eager tensor in two traced
    functions (one XLA) and eagerly: each context computes its own result,
    equal to the others, with gradients."""
    parts, counter, x = _coupling_layers(), Counter(), _data()
    distribution = _distribution("coupling", counter, parts)
    variables = parts[0].trainable_variables

    def loss_and_gradient():
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(distribution.log_prob(x))
        return loss, tape.gradient(loss, variables)

    graph_loss, graph_gradients = tf.function(loss_and_gradient)()
    xla_loss, xla_gradients = tf.function(loss_and_gradient, jit_compile=True)()
    eager_loss, eager_gradients = loss_and_gradient()
    assert len(counter.calls) == 3 * NUM_LAYERS
    np.testing.assert_allclose(graph_loss.numpy(), eager_loss.numpy(), rtol=1e-6)
    np.testing.assert_allclose(xla_loss.numpy(), eager_loss.numpy(), rtol=1e-5)
    for gradients in (graph_gradients, xla_gradients, eager_gradients):
        assert all(g is not None and np.abs(g.numpy()).max() > 0 for g in gradients)


def test_a_result_computed_inside_a_control_flow_branch_is_not_reused_outside_it():
    """A `tf.cond` branch is a graph of its own: its tensors cannot be read
    outside it, so the cache keys entries by graph as well as by tensor."""
    layer, x = _coupling_layers()[0], _data()

    @tf.function(jit_compile=True)
    def log_dets(x):
        bijector = layer.bijector()
        inside = tf.cond(tf.reduce_all(tf.math.is_finite(x)),
                         lambda: bijector.inverse_log_det_jacobian(x, 1), lambda: tf.zeros(tf.shape(x)[:1]))
        return inside, bijector.inverse_log_det_jacobian(x, 1)

    inside, outside = log_dets(x)
    expected = layer.bijector().inverse_log_det_jacobian(x, 1)
    np.testing.assert_allclose(inside.numpy(), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(outside.numpy(), expected.numpy(), rtol=1e-6)
    assert np.abs(expected.numpy()).min() > 0


def test_equal_bijectors_do_not_share_results():
    """Two couplings on the same network compare equal under TFP's rule; a
    result computed outside a tape by one is not returned, gradient-free, by
    the other inside a tape."""
    layer, x = _coupling_layers()[0], _data()
    first, second = layer.bijector(), layer.bijector()
    first.inverse(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(second.inverse(x)) + tf.reduce_sum(second.inverse_log_det_jacobian(x, 1))
    assert all(g is not None for g in tape.gradient(loss, layer.trainable_variables))


def test_a_traced_graph_is_freed_with_its_bijectors():
    """The cache lives on the bijector: no global store keeps a traced
    FuncGraph alive through its cached tensors (TFP's shared store does)."""
    layer = _coupling_layers()[0]

    def trace(bijector_fn):
        def log_det(x):
            bijector = bijector_fn()
            return bijector.inverse(x), bijector.inverse_log_det_jacobian(x, 1)
        function = tf.function(log_det)
        return weakref.ref(function.get_concrete_function(tf.TensorSpec([None, DIMS])).graph)

    graph = trace(layer.bijector)
    gc.collect()
    assert graph() is None
