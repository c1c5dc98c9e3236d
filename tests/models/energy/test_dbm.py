"""DBM mean field and its bound; DBN bound and greedy schedule."""

import numpy as np
import tensorflow as tf

from tests.helpers import binary_states
from tfdgm.distributions.dbm import dbm_log_unnormalized
from tfdgm.models.energy import DBM, DBN


def _data(num_visible=8, num=512, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = (rng.uniform(size=(3, num_visible)) < 0.5).astype(np.float32)
    x = prototypes[rng.integers(0, 3, num)]
    return np.abs(x - (rng.uniform(size=x.shape) < 0.1)).astype(np.float32)


def _trained_dbm():
    model = DBM(event_shape=(8,), num_hidden=[6, 4], num_chains=64, weight_decay=0.0)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.05))
    model.fit(_data(), batch_size=32, epochs=6, verbose=0)
    return model


def test_dbm_mean_field_converges_and_never_lowers_the_bound():
    model = _trained_dbm()
    assert float(model.stage) == 2  # pretraining (stages 0, 1) then joint training
    v = binary_states(8)
    distribution = model.distribution()
    mu, change = distribution.mean_field(v, num_iterations=200, tolerance=1e-7)
    assert float(change) < 1e-6
    # Each half-sweep maximises the bound over its layers: the bound is monotone.
    bounds = [distribution.lower_bound(v, num_iterations=k, tolerance=0.0).numpy() for k in range(0, 8)]
    assert np.all(np.diff(np.stack(bounds), axis=0) > -1e-5)
    # The fixed point satisfies the mean-field equations.
    for layer in (1, 2):
        np.testing.assert_allclose(mu[layer].numpy(), tf.sigmoid(distribution.field(layer, mu)).numpy(), atol=1e-5)


def test_dbm_lower_bound_is_below_the_ais_estimate_of_log_p():
    model = _trained_dbm()
    v = binary_states(8)
    exact_log_z, _ = model.log_partition("exact")
    log_z, stderr = model.log_partition("ais", num_runs=100, num_betas=2000, seed=1)
    assert abs(log_z - exact_log_z) < 0.1
    # log p(v) by AIS: the exact log-sum over hiddens minus the AIS log Z.
    ais_log_p = dbm_log_unnormalized(v, model.layer_weights, model.biases).numpy() - log_z
    bound = model.log_prob(v).numpy()  # mean-field bound minus the stored (AIS) log Z
    assert np.all(bound <= ais_log_p + 1e-4)
    assert np.mean(ais_log_p - bound) < 1.0  # and not vacuous
    # log p under the AIS estimate sums to one within its error.
    assert abs(np.log(np.exp(ais_log_p).sum())) < 3 * stderr + 1e-3


def test_dbm_ais_base_follows_the_data_posterior_after_joint_training():
    model = DBM(event_shape=(8,), num_hidden=[6, 4], num_chains=64, weight_decay=0.0, pretrain_epochs_per_layer=1)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.05))
    model.fit(_data(), batch_size=32, epochs=2, verbose=0)  # pretraining only: uniform hidden base
    assert all(np.all(rate.numpy() == 0.5) for rate in model.hidden_rates())
    model.fit(_data(), batch_size=32, epochs=8, verbose=0)  # then 6 joint epochs, 96 steps
    mu, _ = model.mean_field(_data(), num_iterations=50)
    for rate, posterior in zip(model.hidden_rates(), mu):
        # A bias-corrected moving average of the posterior means of a slowly moving model.
        np.testing.assert_allclose(rate.numpy(), tf.reduce_mean(posterior, 0).numpy(), atol=0.05)
    # AIS from that base still agrees with enumeration.
    exact_log_z, _ = model.log_partition("exact")
    log_z, _ = model.log_partition("ais", num_runs=100, num_betas=2000, seed=1)
    assert abs(log_z - exact_log_z) < 0.1


def test_dbn_greedy_schedule_trains_one_layer_at_a_time():
    model = DBN(event_shape=(8,), num_hidden=[6, 4], epochs_per_layer=2)
    model.compile()
    x = _data()
    model.build((None, 8))
    top = model.layer_weights[1].numpy().copy()
    model.fit(x, batch_size=32, epochs=2, verbose=0)
    np.testing.assert_array_equal(model.layer_weights[1].numpy(), top)  # layer 2 untouched so far
    bottom = model.layer_weights[0].numpy().copy()
    model.fit(x, batch_size=32, epochs=4, initial_epoch=2, verbose=0)
    np.testing.assert_array_equal(model.layer_weights[0].numpy(), bottom)  # layer 1 frozen now
    assert not np.array_equal(model.layer_weights[1].numpy(), top)


def test_dbn_bound_is_below_the_exact_log_likelihood():
    model = DBN(event_shape=(8,), num_hidden=[6, 4])
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1))
    model.fit(_data(), batch_size=32, epochs=10, verbose=0)
    v = binary_states(8)
    model.log_partition("exact")
    distribution = model.distribution(log_normalizer=model.log_z)
    # Exact log p(v) = log sum_{h1} p(v|h1) p_top(h1), enumerating h1 (2**6 states).
    h1 = binary_states(6)
    logits = distribution.visible_biases[0] + h1 @ tf.transpose(distribution.weights[0])
    log_p_v_given_h = -tf.reduce_sum(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.repeat(v[None], 64, 0), logits=tf.repeat(logits[:, None, :], 256, 1)), -1)
    log_p_h = -distribution.top.free_energy(h1) - model.log_z
    log_p = tf.reduce_logsumexp(log_p_v_given_h + log_p_h[:, None], 0).numpy()
    assert abs(np.log(np.exp(log_p).sum())) < 1e-4
    # The bound sum_h1 q(h1|v) [log p(v|h1) + log p(h1) - log q(h1|v)], enumerated exactly:
    q_logits = distribution.hidden_biases[0] + v @ distribution.weights[0]  # [256, 6]
    log_q = -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.repeat(h1[:, None, :], 256, 1), logits=tf.repeat(q_logits[None], 64, 0)), -1)  # [64, 256]
    exact_bound = tf.reduce_sum(tf.exp(log_q) * (log_p_v_given_h + log_p_h[:, None] - log_q), 0).numpy()
    assert np.all(exact_bound <= log_p + 1e-4)
    assert np.mean(log_p - exact_bound) > 1e-4  # a strict bound (q is not the true posterior)
    # The Monte-Carlo estimator of `lower_bound` is unbiased for it.
    estimate = distribution.lower_bound(v, num_samples=500, seed=[0, 1]).numpy()
    assert abs(np.mean(estimate - exact_bound)) < 0.01
    samples = model.sample(500, num_steps=50, seed=0).numpy()
    assert samples.shape == (500, 8) and set(np.unique(samples)) <= {0.0, 1.0}


def test_dbm_pretraining_epochs_per_layer_fix_the_stage_of_each_epoch():
    model = DBM(event_shape=(4,), num_hidden=[3, 2], pretrain_epochs_per_layer=2)
    model.build((None, 4))
    for total in (6, 20):  # the stage does not depend on the epochs of one fit call
        stages = []
        for epoch in range(6):
            model.set_stage_for_epoch(epoch, total)
            stages.append(int(model.stage.numpy()))
        assert stages == [0, 0, 1, 1, 2, 2]
    model.pretrain_epochs_per_layer = 0  # no pretraining: joint training from the start
    model.set_stage_for_epoch(0, 6)
    assert int(model.stage.numpy()) == 2
