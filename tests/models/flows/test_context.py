"""Flows conditioned on context vectors, p(x | c) (`context_shape`): MAF,
RealNVP (vector and image) and Glow (vector and image). The mathematics given
a fixed context, that the context matters, a toy conditional problem, export
to bare TensorFlow, the XLA train step and bad contexts."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.checks.bijectors import assert_bijector_correct
from tests.checks.export import Output, exported_outputs
from tests.helpers import grid_2d, recording_xla_traces
from tests.checks.flows import randomize
from tfdgm import cli
from tfdgm.models import MAF, Glow, RealNVP

VECTOR = {
    "maf": lambda **kw: MAF(event_shape=(2,), num_layers=3, hidden_units=(32,), **kw),
    "realnvp": lambda **kw: RealNVP(event_shape=(2,), num_layers=4, hidden_units=(32,), **kw),
    "glow": lambda **kw: Glow(event_shape=(2,), num_steps=3, hidden_units=(32,), **kw),
}
IMAGE = {
    # Glow at two levels: the context also passes through the factor-out of a multi-scale flow.
    "realnvp_image": lambda **kw: RealNVP(event_shape=(4, 4, 2), num_levels=1, hidden_channels=4, num_blocks=1, **kw),
    "glow_image": lambda **kw: Glow(event_shape=(4, 4, 2), num_levels=2, num_steps=1, hidden_channels=4, **kw),
}
SMALL = {
    "maf": lambda: MAF(event_shape=(3,), num_layers=2, hidden_units=(8,), context_shape=(2,)),
    "realnvp": lambda: RealNVP(event_shape=(3,), num_layers=2, hidden_units=(8,), context_shape=(2,)),
    "glow": lambda: Glow(event_shape=(3,), num_steps=2, hidden_units=(8,), context_shape=(2,)),
    **{name: lambda make=make: make(context_shape=(2,)) for name, make in IMAGE.items()},
}

# The toy conditional problem: c ~ U(-1, 1)^2, x | c ~ N(A c, L(c) L(c)^T).
A = np.array([[2.0, 0.5], [-1.0, 1.5]], np.float32)


def _scale_tril(c):
    """L(c) [N, 2, 2]: a context-dependent scale and correlation."""
    scale = np.zeros([len(c), 2, 2], np.float32)
    scale[:, 0, 0] = 0.2 * np.exp(0.5 * c[:, 1])
    scale[:, 1, 0] = 0.15 * c[:, 0]
    scale[:, 1, 1] = 0.2
    return scale


def conditional_gaussian(n, seed):
    """-> (x [n, 2], c [n, 2], true log p(x | c) [n])."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)
    scale = _scale_tril(c)
    eps = rng.normal(size=(n, 2)).astype(np.float32)
    x = c @ A.T + np.einsum("nij,nj->ni", scale, eps)
    log_det = np.log(scale[:, 0, 0] * scale[:, 1, 1])
    true_log_prob = -0.5 * np.sum(eps**2, -1) - log_det - np.log(2 * np.pi)
    return x.astype(np.float32), c, true_log_prob


def _context(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_log_det_matches_autodiff_jacobian_for_a_fixed_context(name):
    # Images at a smaller perturbation: their float32 Jacobians (32 x 32)
    # get too ill-conditioned for slogdet at 0.2, with or without a context.
    model = randomize(SMALL[name](), scale=0.05 if name in IMAGE else 0.2, seed=1)
    z = np.random.default_rng(2).normal(size=(3, *model.latent_shape)).astype(np.float32)
    context = _context(3, seed=3)
    assert_bijector_correct(model.bijector(context), z, len(model.latent_shape), atol=1e-4, rtol=1e-4,
                            copies=lambda n: model.bijector(np.tile(context, [n] + [1] * (context.ndim - 1))))
    # log p(x | c) of x = f(z; c) is log p(z | c) - log|det df/dz|, by hand.
    chain, base = model.bijector(context), model.base_distribution(context)
    x = chain.forward(z)
    by_hand = base.log_prob(z) - chain.forward_log_det_jacobian(z, event_ndims=len(model.latent_shape))
    np.testing.assert_allclose(model.log_prob(x, context), by_hand, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.decode(model.encode(x, context), context), x, rtol=1e-4, atol=1e-4)
    # The context matters: the same x under other contexts has another density.
    other = model.log_prob(x, context[::-1] + 1.0).numpy()
    assert np.mean(np.abs(other - model.log_prob(x, context).numpy())) > 0.05
    # One context [F] for the batch is the same as that context repeated.
    np.testing.assert_allclose(model.log_prob(x, context[0]), model.log_prob(x, np.repeat(context[:1], 3, 0)),
                               rtol=1e-5, atol=1e-5)


def marginal_log_prob(x, num_contexts=4096, seed=2):
    """log p(x) = log E_c p(x | c) of the toy problem, by Monte Carlo over c:
    the test NLL of the best density over x that ignores the context."""
    c = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(num_contexts, 2)).astype(np.float64)
    scale = _scale_tril(c).astype(np.float64)
    eps1 = (x[:, None, 0] - (c @ A.T)[None, :, 0]) / scale[None, :, 0, 0]
    eps2 = (x[:, None, 1] - (c @ A.T)[None, :, 1] - scale[None, :, 1, 0] * eps1) / scale[None, :, 1, 1]
    log_p = -0.5 * (eps1**2 + eps2**2) - np.log(scale[:, 0, 0] * scale[:, 1, 1])[None] - np.log(2 * np.pi)
    return np.logaddexp.reduce(log_p, axis=1) - np.log(num_contexts)


@pytest.mark.parametrize("name", sorted(VECTOR))
def test_trained_on_a_conditional_gaussian_beats_the_flow_without_context(name):
    """x | c ~ N(A c, L(c) L(c)^T): with c the flow comes near the true
    conditional density; without c no density over x can beat the marginal
    p(x) = E_c p(x | c), and the same flow trained without c (MAF) does not
    come near it either."""
    x, c, _ = conditional_gaussian(1024, seed=0)
    x_test, c_test, true_log_prob = conditional_gaussian(1024, seed=1)
    nll = {}
    for conditional in (True, False) if name == "maf" else (True,):
        keras.utils.set_random_seed(0)
        model = VECTOR[name](**({"context_shape": (2,)} if conditional else {}))
        # No XLA: compiling takes longer than these 80 steps.
        model.compile(optimizer=keras.optimizers.Adam(5e-3), jit_compile=False, steps_per_execution=8)
        model.fit((x, c) if conditional else x, batch_size=128, epochs=10, verbose=0)
        nll[conditional] = -float(np.mean(model.log_prob(x_test, c_test) if conditional else model.log_prob(x_test)))
        if conditional:
            trained = model
    marginal_nll = -float(np.mean(marginal_log_prob(x_test)))
    true_nll = -float(np.mean(true_log_prob))
    print(f"{name}: test NLL {nll} (True: with the context), true {true_nll:.3f}, marginal {marginal_nll:.3f}")
    assert nll[True] < true_nll + 0.3, (nll, true_nll)
    assert nll[True] < marginal_nll - 2.0, (nll, marginal_nll)
    if False in nll:
        assert nll[False] > marginal_nll - 0.05 and nll[True] < nll[False] - 2.0, (nll, marginal_nll)
    # A density over x for each fixed context: it integrates to 1, and two
    # contexts put their mass in different places (at A c).
    points, area = grid_2d(-6.0, 6.0, 301)
    masses, means = [], []
    for context in ([0.5, -0.5], [-0.8, 0.6]):
        density = np.exp(trained.log_prob(points, np.asarray(context, np.float32)).numpy())
        masses.append(float(np.sum(density)) * area)
        means.append(np.sum(density[:, None] * points, 0) * area)
        np.testing.assert_allclose(means[-1], A @ np.asarray(context), atol=0.1)
    print(f"{name}: grid masses {masses}, means {means}")
    np.testing.assert_allclose(masses, 1.0, atol=0.02)
    # Samples given a context follow that context's density.
    samples = trained.sample(4000, context=np.asarray([0.5, -0.5], np.float32), seed=0).numpy()
    np.testing.assert_allclose(samples.mean(0), means[0], atol=0.02)


XLA = {  # one-level image flows: XLA compile time grows with the levels
    "maf": SMALL["maf"],
    "glow_image": lambda: Glow(event_shape=(4, 4, 2), num_levels=1, num_steps=1, hidden_channels=4,
                               context_shape=(2,)),
}


def test_export_takes_the_context_and_reloads_in_bare_tensorflow(tmp_path):
    names = ["maf", "glow", "realnvp_image"]  # RealNVP on vectors shares the image variant's context net
    context = _context(3, seed=4)
    for k, name in enumerate(names):
        model = randomize(SMALL[name](), scale=0.05 if name in IMAGE else 0.2, seed=k)
        xs = np.random.default_rng(k).normal(size=(3, *model.event_shape)).astype(np.float32)
        (tmp_path / name).mkdir()
        got = exported_outputs(model, {
            "log_prob": ("log_prob", {"x": xs, "context": context}),
            "serving_default": ("serving_default", {"x": xs, "context": context}),
            "sample_one": ("sample", {"n": 3, "seed": 5, "context": context[:1]}),
            "sample_each": ("sample", {"n": 3, "seed": 5, "context": context}),
            "encode": ("encode", {"x": xs, "context": context}),
            "decode": ("decode", {"z": Output("encode", "z"), "context": context}),
        }, tmp_path / name)
        np.testing.assert_allclose(got["log_prob"]["log_prob"], model.log_prob(xs, context), rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(got["serving_default"]["log_prob"], got["log_prob"]["log_prob"])
        np.testing.assert_allclose(got["sample_one"]["samples"], model.sample(3, seed=5, context=context[0]),
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got["sample_each"]["samples"], model.sample(3, seed=5, context=context),
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got["encode"]["z"], model.encode(xs, context), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got["decode"]["x"], xs, rtol=1e-3, atol=1e-3)


@pytest.mark.xla
@pytest.mark.parametrize("name", sorted(XLA))
def test_train_step_with_a_context_compiles_with_xla(name):
    model = XLA[name]()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, *model.event_shape)).astype(np.float32)
    model.compile(optimizer="adam")
    assert model.jit_compile is True
    dataset = tf.data.Dataset.from_tensor_slices((x, _context(8))).batch(8)
    with recording_xla_traces(model) as traced:
        history = model.fit(dataset, epochs=1, verbose=0)
    assert traced and all(traced), traced
    assert np.isfinite(history.history["nll"][-1])


def test_bad_contexts_raise_naming_the_expected_shape():
    model = MAF(event_shape=(2,), num_layers=1, hidden_units=(4,), context_shape=(3,))
    x = np.zeros([4, 2], np.float32)
    expected = r"a context of shape \[batch, 3\] or \[3\] \(context_shape=\(3,\)\)"
    with pytest.raises(ValueError, match=expected + ", got None"):
        model.log_prob(x)
    with pytest.raises(ValueError, match=expected + r", got shape \[4, 2\]"):
        model.log_prob(x, np.zeros([4, 2], np.float32))
    with pytest.raises(ValueError, match=r"expected a finite context \(context_shape=\(3,\)\), got 1 NaN"):
        model.sample(2, context=np.array([0.0, np.nan, 1.0], np.float32), seed=0)
    with pytest.raises(ValueError, match=r"one context or one per example \(4\), got 2 contexts"):
        model.log_prob(x, np.zeros([2, 3], np.float32))
    with pytest.raises(ValueError, match="expected fit\\(\\(x, context\\)\\) or fit\\(x, context\\) with " + expected):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match=r"expected a context of shape \[4, 3\] \(context_shape=\(3,\)\), got \[4, 2\]"):
        model.fit((x, np.zeros([4, 2], np.float32)), verbose=0)
    with pytest.raises(ValueError, match="expected a finite context"):
        model.fit(x, np.full([4, 3], np.nan, np.float32), verbose=0)
    with pytest.raises(ValueError, match="expected a dataset of \\(x, context\\) pairs"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(2), verbose=0)
    for cls in (MAF, RealNVP, Glow):
        with pytest.raises(ValueError, match="expected context_shape \\(F,\\) with a positive int F"):
            cls(event_shape=(2,), context_shape=(0,))
    for cls in (MAF, Glow):
        with pytest.raises(ValueError, match="expected either num_classes .* or context_shape .*, got both"):
            cls(event_shape=(2,), num_classes=3, context_shape=(3,))


def test_the_command_line_says_no_dataset_provides_context_vectors(tmp_path, capsys):
    code = cli.main(["train", "maf", "--data", "moons", "--epochs", "1", "--num-examples", "64", "--out",
                     str(tmp_path / "run"), "--quiet", "--param", "context_shape=[3]"])
    assert code == 2
    error = capsys.readouterr().err
    assert "MAF is conditioned on context vectors (context_shape=[3]), but dataset 'moons' provides none" in error
