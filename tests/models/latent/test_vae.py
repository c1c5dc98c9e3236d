"""VAE mathematics on a linear-Gaussian model with a closed-form log p(x):
ELBO <= log p(x), L_1 <= L_5 <= L_50, L_k -> log p(x); reparameterized
gradients against score-function gradients; chunk-free L_k; XLA; errors."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.helpers import recording_xla_traces
from tfdgm.models import VAE

tfd = tfp.distributions
SOFTPLUS_ONE = math.log(math.e - 1.0)


def _inverse_softplus(y):
    return np.log(np.expm1(y))


def linear_gaussian_vae(inflate=1.5, seed=0):
    """p(z) = N(0, I_2), p(x|z) = N(Wz + b, I_3), so x ~ N(b, WW^T + I) exactly.

    q(z|x) has the exact posterior mean and the exact posterior marginal
    standard deviations times `inflate` (diagonal, so never exact: the
    true posterior is correlated). Returns (model, W, b).
    """
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(3, 2)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    model = VAE(event_shape=(3,), hidden_units=[], latent_dim=2, likelihood="gaussian_fixed")
    model.build()
    decoder = model.generative_layers[0].projection
    decoder.kernel.assign(W.T)
    decoder.bias.assign(b)
    posterior_cov = np.linalg.inv(np.eye(2) + W.T @ W)
    A = W @ posterior_cov  # loc = (x - b) A
    scales = inflate * np.sqrt(np.diag(posterior_cov))
    kernel = np.zeros((3, 4), np.float32)
    bias = np.zeros(4, np.float32)
    kernel[:, 0::2] = A
    bias[0::2] = -b @ A
    bias[1::2] = _inverse_softplus(scales - 1e-3) - SOFTPLUS_ONE
    encoder = model.posterior_layers[0].projection
    encoder.kernel.assign(kernel)
    encoder.bias.assign(bias)
    return model, W, b


def _data_and_exact(W, b, n=32, seed=1):
    exact = tfd.MultivariateNormalFullCovariance(b, W @ W.T + np.eye(3, dtype=np.float32))
    x = exact.sample(n, seed=tf.constant([seed, 0]))
    return x, exact.log_prob(x).numpy()


def test_elbo_is_below_the_exact_log_likelihood():
    model, W, b = linear_gaussian_vae()
    x, exact = _data_and_exact(W, b)
    # Analytic KL + 2000-sample reconstruction term: MC error << the gap.
    elbo = model.elbo(x, num_samples=2000, seed=0).numpy()
    gap = exact - elbo
    assert np.all(gap > 0.05), gap
    # With the exact (correlated) posterior the bound would be tight; the
    # diagonal, inflated q loses at least KL of its marginals: > 0.2 nats here.
    assert gap.mean() > 0.2


def test_iwae_bounds_increase_with_k_and_approach_log_px():
    model, W, b = linear_gaussian_vae()
    x, exact = _data_and_exact(W, b)
    tiled = tf.tile(x, [20, 1])  # 640 rows: 20 independent estimates per point
    bounds = {k: model.log_prob(tiled, num_samples=k, seed=3).numpy() for k in (1, 5, 50)}
    for small, large in ((1, 5), (5, 50)):
        difference = bounds[large] - bounds[small]
        standard_error = difference.std() / math.sqrt(len(difference))
        assert difference.mean() > 3 * standard_error, (small, large, difference.mean(), standard_error)
    # L_k <= log p(x) in expectation, for every k.
    for k, value in bounds.items():
        assert value.mean() < np.tile(exact, 20).mean(), k

    # L_5000 -> log p(x). Tolerance from the delta method: with v the relative
    # variance Var[w]/E[w]^2 of one weight, E[L_k] ~ log p(x) - v/(2k) and
    # sd[L_k] ~ sqrt(v/k); v is measured from the weights themselves.
    k = 5000
    log_weights = model.log_importance_weights(x, seed=4, num_samples=k).numpy().astype(np.float64)
    weights = np.exp(log_weights - log_weights.max(0))
    relative_variance = (weights.var(0) / weights.mean(0) ** 2).mean()
    estimate = model.log_prob(x, num_samples=k, seed=4).numpy()
    tolerance = relative_variance / (2 * k) + 4 * math.sqrt(relative_variance / k / len(exact)) + 1e-4
    assert abs(estimate.mean() - exact.mean()) < tolerance, (estimate.mean(), exact.mean(), tolerance)
    assert np.all(np.abs(estimate - exact) < 0.05)
    assert abs(estimate.mean() - exact.mean()) < abs(bounds[1].mean() - exact.mean()) / 10


def test_chunked_log_prob_equals_unchunked_for_the_same_seed():
    model, W, b = linear_gaussian_vae()
    x, _ = _data_and_exact(W, b, n=8)
    whole = model.log_prob(x, num_samples=60, seed=9, chunk_size=60).numpy()
    for chunk_size in (1, 7, 25):
        np.testing.assert_allclose(model.log_prob(x, num_samples=60, seed=9, chunk_size=chunk_size), whole, rtol=1e-5)
    graph = tf.function(lambda x: model.log_prob(x, num_samples=60, seed=9, chunk_size=7))
    np.testing.assert_allclose(graph(x), whole, rtol=1e-5)
    assert not np.allclose(model.log_prob(x, num_samples=60, seed=10).numpy(), whole)


def test_reparameterized_gradient_matches_score_function_gradient():
    """d/dphi E_q[log p(x|z)] for phi = the encoder's (loc, scale) biases, by
    reparameterization and by the score function E[(f - baseline) grad log q]."""
    model = VAE(event_shape=(2,), hidden_units=[], latent_dim=1, likelihood="gaussian_fixed")
    model.build()
    model.generative_layers[0].projection.kernel.assign([[1.5, -0.7]])
    model.generative_layers[0].projection.bias.assign([0.2, 0.1])
    model.posterior_layers[0].projection.bias.assign([0.3, 0.2])
    phi = model.posterior_layers[0].projection.bias
    x = tf.tile(tf.constant([[1.0, -0.5]]), [500, 1])
    reparameterized, score = [], []
    for group in range(20):
        seed = tf.constant([group, 1])
        with tf.GradientTape(persistent=True) as tape:
            terms = model.bound_terms(x, seed, 0, 10)  # 5000 samples
            f = terms["log_likelihood"]
            surrogate = tf.reduce_mean(tf.stop_gradient(f - tf.reduce_mean(f)) * terms["q1"].log_prob(tf.stop_gradient(terms["hs"][0])))
            value = tf.reduce_mean(f)
        reparameterized.append(tape.gradient(value, phi).numpy())
        score.append(tape.gradient(surrogate, phi).numpy())
    reparameterized, score = np.array(reparameterized), np.array(score)
    se = lambda g: g.std(0) / math.sqrt(len(g))  # noqa: E731
    combined = np.sqrt(se(reparameterized) ** 2 + se(score) ** 2)
    assert np.all(np.abs(reparameterized.mean(0) - score.mean(0)) < 4 * combined), (reparameterized.mean(0), score.mean(0), combined)
    assert np.all(np.abs(reparameterized.mean(0)) > 10 * se(reparameterized))  # a real, non-zero gradient


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({"posterior": "planar"}, (6,)),
        ({"latent_dim": [4, 2], "likelihood": "gaussian", "beta": 0.5, "kl_warmup_steps": 10}, (6,)),
        ({"architecture": "conv", "likelihood": "logistic_mixture", "latent_dim": 3}, (8, 8, 1)),
        ({"posterior": "full", "likelihood": "categorical256"}, (3,)),
    ],
    ids=["bernoulli_planar_posterior", "stacked_gaussian_warmup", "conv_logistic_mixture", "full_posterior_categorical"],
)
@pytest.mark.xla
def test_fit_on_a_fresh_model_runs_xla_compiled_train_steps(kwargs, shape):
    rng = np.random.default_rng(0)
    if kwargs.get("likelihood") in ("logistic_mixture", "categorical256"):
        x = rng.integers(0, 256, size=(64, *shape)).astype(np.float32)
    elif kwargs.get("likelihood") == "gaussian":
        x = rng.normal(size=(64, *shape)).astype(np.float32)
    else:
        x = (rng.uniform(size=(64, *shape)) < 0.3).astype(np.float32)
    model = VAE(event_shape=shape, hidden_units=[16], **kwargs)
    model.compile(optimizer="adam")
    assert model.jit_compile is True
    with recording_xla_traces(model) as traced:
        history = model.fit(x, batch_size=32, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["nll"]))
    assert {"nll", "bits_per_dim", "elbo", "kl", "reconstruction"} <= set(history.history)
    assert traced and all(traced), traced  # fit traced its train step inside XLA


def test_training_lowers_the_negative_elbo_and_warmup_scales_the_kl():
    rng = np.random.default_rng(1)
    prototypes = (rng.uniform(size=(3, 10)) < 0.5).astype(np.float32)
    x = prototypes[rng.integers(0, 3, 512)]
    x = np.abs(x - (rng.uniform(size=x.shape) < 0.05)).astype(np.float32)
    model = VAE(event_shape=(10,), hidden_units=[32], latent_dim=2, kl_warmup_steps=40, beta=0.5)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01))
    history = model.fit(x, batch_size=64, epochs=15, verbose=0)
    assert history.history["nll"][-1] < history.history["nll"][0] - 1.0
    # The reported nll is -ELBO (KL weight 1), whatever the warm-up weight.
    np.testing.assert_allclose(
        history.history["nll"][-1], history.history["kl"][-1] - history.history["reconstruction"][-1], rtol=1e-4
    )


def test_latent_tools_on_a_two_dimensional_latent():
    model = VAE(event_shape=(4,), hidden_units=[8], latent_dim=2)
    x = (np.random.default_rng(2).uniform(size=(20, 4)) < 0.5).astype(np.float32)
    path = model.interpolate(x[0], x[1], num_steps=5)
    np.testing.assert_allclose(path[0], model.reconstruct(x[:1])[0], rtol=1e-5)
    np.testing.assert_allclose(path[-1], model.reconstruct(x[1:2])[0], rtol=1e-5)
    vector = model.attribute_vector(x[:10], x[10:])
    np.testing.assert_allclose(
        model.apply_attribute(x[:3], vector, 0.0), model.reconstruct(x[:3]), rtol=1e-5
    )
    picture = model.latent_scatter(x, labels=np.arange(20) % 3)
    assert picture.shape == (256, 256, 3) and picture.min() < 255
    samples = model.sample(6, seed=4, mean=True)
    assert samples.shape == (6, 4) and np.all((samples >= 0) & (samples <= 1))
    np.testing.assert_array_equal(samples, model.sample(6, seed=4, mean=True))
    drawn = model.sample(6, seed=4).numpy()
    assert set(np.unique(drawn)) <= {0.0, 1.0}


def test_bad_inputs_raise_value_errors_naming_what_was_expected():
    model = VAE(event_shape=(4,), latent_dim=2)
    with pytest.raises(ValueError, match=r"expected x of shape \[batch, 4\], got shape \[2, 5\]"):
        model.log_prob(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"expected z of shape \[batch, 2\], got shape \[3, 7\]"):
        model.decode(np.zeros((3, 7), np.float32))
    with pytest.raises(ValueError, match="expected num_samples >= 1, got 0"):
        model.log_prob(np.zeros((2, 4), np.float32), num_samples=0)
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        VAE(event_shape=(4,), likelihood="poisson")
    with pytest.raises(ValueError, match="latent_dim as a positive int or a list"):
        VAE(event_shape=(4,), latent_dim=[3, 0])
    with pytest.raises(ValueError, match=r"H and W divisible by 4, got \(7, 7, 1\)"):
        VAE(event_shape=(7, 7, 1), architecture="conv")


def test_figures_pair_inputs_with_reconstructions_and_interpolate_between_pairs():
    model = VAE(event_shape=(4,), hidden_units=[8], latent_dim=2)
    x = (np.random.default_rng(3).uniform(size=(4, 4)) < 0.5).astype(np.float32)
    figures = model.figures(x, num_steps=5)
    np.testing.assert_array_equal(figures["reconstructions"][0::2], x)
    np.testing.assert_allclose(figures["reconstructions"][1::2], model.reconstruct(x), rtol=1e-6)
    assert figures["interpolations"].shape == (10, 4)
    with pytest.raises(ValueError, match="bad options for likelihood 'bernoulli'"):
        VAE(event_shape=(4,), likelihood_options={"num_levels": 3})


def test_log_prob_with_5000_samples_on_784_dimensions_is_chunked_with_a_progress_bar(capsys):
    """k = 5000 on 20 784-dimensional inputs would be a [5000, 20, 784] tensor
    (314 MB) at once; the default chunks hold at most 2**24 floats (5 chunks of
    1070 here), and verbose=1 shows a bar over them. L_5000 >= the ELBO in
    expectation (both estimated; 4 standard errors of the ELBO's mean)."""
    model = VAE(event_shape=(784,), hidden_units=[16], latent_dim=4)
    x = (np.random.default_rng(5).uniform(size=(20, 784)) < 0.3).astype(np.float32)
    estimate = model.log_prob(x, num_samples=5000, seed=1, verbose=1).numpy()
    assert "5/5" in capsys.readouterr().out
    assert estimate.shape == (20,) and np.all(np.isfinite(estimate))
    log_weights = model.log_importance_weights(x, seed=2, num_samples=200).numpy()
    elbo, standard_error = log_weights.mean(0), log_weights.std(0) / math.sqrt(200)
    assert np.all(estimate > elbo - 4 * standard_error)


def test_latent_scatter_colours_each_label_and_places_points_by_their_posterior_means():
    model = VAE(event_shape=(4,), hidden_units=[8], latent_dim=2)
    x = (np.random.default_rng(6).uniform(size=(30, 4)) < 0.5).astype(np.float32)
    colours = lambda picture: {tuple(c) for c in picture.reshape(-1, 3)} - {(255, 255, 255)}  # noqa: E731
    three = colours(model.latent_scatter(x, labels=np.arange(30) % 3))
    assert len(three) == 3
    assert len(colours(model.latent_scatter(x))) == 1
    # One point alone per label: the label-1 point's colour is the second of the three.
    only_label_1 = colours(model.latent_scatter(x, labels=np.ones(30, np.int64)))
    assert len(only_label_1) == 1 and only_label_1 < three
    # Label by the first coordinate of the posterior mean: every label-1 dot lies
    # right of every label-0 dot (dots are 3 pixels wide, so 2 pixels of overlap).
    z = model.encode(x).numpy()
    labels = (z[:, 0] > np.median(z[:, 0])).astype(np.int64)
    picture = model.latent_scatter(x, labels=labels)
    palette = sorted(colours(model.latent_scatter(x, labels=np.zeros(30, np.int64))) | only_label_1)
    columns = {}
    for label, colour in ((0, sorted(colours(model.latent_scatter(x)))[0]), (1, sorted(only_label_1)[0])):
        columns[label] = np.argwhere(np.all(picture == np.array(colour, np.uint8), -1))[:, 1]
    assert len(palette) == 2 and len(columns[0]) and len(columns[1])
    assert columns[1].min() >= columns[0].max() - 2, (columns[0].max(), columns[1].min())
    with pytest.raises(ValueError, match="latent_scatter needs latent_dim 2, got 3"):
        VAE(event_shape=(4,), latent_dim=3).latent_scatter(x)
