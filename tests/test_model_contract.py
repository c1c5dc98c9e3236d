"""The test contract: what every registered model does, checked on its small
configuration in `tests/checks/small_models.py` (a model without an entry
fails here): one `fit` step with a finite loss, a finite likelihood (log_prob,
ELBO, free energy) where its family has one, seeded `sample(n, seed=...)`, an
XLA train step where `supports_xla`, export and bare-TensorFlow reload (one
representative per family), and a `ValueError` for a wrong shape, NaN, and
data outside the model's domain."""

import re

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.export import exported_outputs
from tests.checks.small_models import SMALL, fit_small, trained
from tests.helpers import recording_xla_traces
from tfdgm import export, models
from tfdgm.models import domains

NAMES = models.list_models()

#: Energy models whose `free_energy` (over v) or `log_prob` raises: the
#: directed stacks under a top RBM (DBN: log_prob is a variational bound).
WITHOUT_FREE_ENERGY = {"dbn", "conv_dbn"}
WITHOUT_LOG_PROB = {"conv_dbn"}

#: Export and bare-TensorFlow reload of one or two models per family (each
#: model family shares its export signatures).
EXPORTED = ["cyclegan", "gan", "made", "rbm", "realnvp", "vae"]

#: With tests/models/test_keras_saving.py on one xdist worker: they share `trained` models.
pytestmark = pytest.mark.xdist_group("small_models")


def _entry(name):
    if name not in SMALL:
        pytest.fail(f"registered model {name!r} has no small configuration: add one to SMALL in "
                    "tests/checks/small_models.py")
    return SMALL[name]


def _trained(name):
    """(model, x, labels, history): the model after one `fit` step (without XLA, the tests' default)."""
    _entry(name)
    return trained(name)


def _optimizers(model):
    if model.family == "adversarial":
        return [model.generator_optimizer, model.discriminator_optimizer]
    return [model.optimizer]


def _sample(model, n, seed):
    if model.family == "energy":
        return model.sample(n, seed=seed, num_steps=2)
    return model.sample(n, seed=seed)


def _likelihoods(name, model, x):
    """The family's likelihood answers on x: {name: [batch] values}."""
    if model.family == "density":
        return {"log_prob": model.log_prob(x)}
    if model.family == "latent":
        return {"elbo": model.elbo(x, seed=0), "log_prob": model.log_prob(x, num_samples=3, seed=0)}
    if model.family == "energy":
        return {method: getattr(model, method)(x) for method in _energy_methods(name)}
    return {}


def _energy_methods(name):
    return [method for method, without in (("free_energy", WITHOUT_FREE_ENERGY), ("log_prob", WITHOUT_LOG_PROB))
            if name not in without]


def _likelihood_entry(name, model):
    """The family's first eager entry point for data (None for GANs and ConvDBN)."""
    if model.family == "energy":
        methods = _energy_methods(name)
        return getattr(model, methods[0]) if methods else None
    method = {"density": "log_prob", "latent": "elbo"}.get(model.family)
    return None if method is None else getattr(model, method)


def test_every_registered_model_has_a_small_entry():
    registered = set(NAMES)
    assert sorted(registered - set(SMALL)) == [], "add these models to SMALL in tests/checks/small_models.py"
    assert sorted(set(SMALL) - registered) == [], "SMALL names models that are not registered"


@pytest.mark.parametrize("name", NAMES)
def test_one_fit_step_gives_a_finite_loss(name):
    model, _, _, history = _trained(name)
    assert history.history, f"{name}: fit reported no metrics"
    for metric, values in history.history.items():
        assert len(values) == 1 and np.isfinite(values[0]), (metric, values)
    assert all(int(optimizer.iterations) > 0 for optimizer in _optimizers(model))


@pytest.mark.parametrize("name", [n for n in NAMES if models.get(n).family != "adversarial"])
def test_the_likelihood_is_finite(name):
    model, x, _, _ = _trained(name)
    for method, without in (("free_energy", WITHOUT_FREE_ENERGY), ("log_prob", WITHOUT_LOG_PROB)):
        if name in without:
            with pytest.raises(ValueError, match=f"{type(model).__name__} has no"):
                getattr(model, method)(x)
    if name in WITHOUT_LOG_PROB:
        return
    if model.family == "energy":
        model.log_partition("ais", num_runs=4, num_betas=10, seed=0)
    values = _likelihoods(name, model, x)
    assert values
    for what, value in values.items():
        value = np.asarray(value)
        assert value.shape == (len(x),), (what, value.shape)
        assert np.all(np.isfinite(value)), (what, value)


@pytest.mark.parametrize("name", NAMES)
def test_sample_has_the_event_shape_and_the_same_seed_gives_the_same_samples(name):
    model, _, _, _ = _trained(name)
    first, again = np.asarray(_sample(model, 3, seed=7)), np.asarray(_sample(model, 3, seed=7))
    assert first.shape == (3, *model.event_shape)
    assert np.all(np.isfinite(first))
    np.testing.assert_array_equal(first, again)


@pytest.mark.xla
@pytest.mark.parametrize("name", [n for n in NAMES if models.get(n).supports_xla])
def test_the_train_step_compiles_with_xla(name):
    make, make_data = _entry(name)
    model = make()
    model.compile()
    assert model.jit_compile is True  # XLA is compile()'s default, even without a GPU
    with recording_xla_traces(model) as traced:
        history = fit_small(model, make_data(), steps=1)
    assert traced and all(traced), traced  # fit traced its train step inside an XLA cluster
    assert all(np.isfinite(values[-1]) for values in history.history.values()), history.history


def _export_calls(model, x):
    names = export.signature_names(model)
    calls = {}
    if "translate" in names:
        calls["translate"] = ("translate", {"x": model.split_couple(x)[0]})
    if "sample" in names:
        calls["sample"] = ("sample", {"n": 3, "seed": 5})
        calls["again"] = ("sample", {"n": 3, "seed": 5})
    if "log_prob" in names:
        options = {"num_samples": 4, "seed": 2} if model.family == "latent" else {}
        calls["log_prob"] = ("log_prob", {"x": x, **options})
    return calls


@pytest.mark.parametrize("name", EXPORTED)
def test_the_export_reloads_in_bare_tensorflow(name, tmp_path):
    model, x, _, _ = _trained(name)
    if model.family == "energy":
        model.log_partition("ais", num_runs=4, num_betas=10, seed=0)
    x = x[:4]
    calls = _export_calls(model, x)
    assert calls, f"{name} exports none of translate, sample, log_prob"
    out = exported_outputs(model, calls, tmp_path)
    if "translate" in out:
        a = model.split_couple(x)[0]
        np.testing.assert_allclose(out["translate"]["a2b"], model.translate(a, "a2b"), rtol=1e-5, atol=1e-5)
    if "sample" in out:
        samples = out["sample"]["samples"]
        assert samples.shape == (3, *model.event_shape)
        np.testing.assert_array_equal(samples, out["again"]["samples"])
    if "log_prob" in out:
        options = {"num_samples": 4, "seed": 2} if model.family == "latent" else {}
        np.testing.assert_allclose(out["log_prob"]["log_prob"], model.log_prob(x, **options), rtol=1e-4, atol=1e-4)


def _wrong_shape(x):
    return np.concatenate([x, x[..., :1]], axis=-1)


def _with_nan(x):
    x = x.copy()
    x.reshape(-1)[0] = np.nan
    return x


def _outside_domain(model, x):
    domain = domains.domain_of(model)
    value = {"binary": 0.5, "counts": -1.0, "levels": domain.num_levels, "continuous": np.inf}[domain.kind]
    x = x.copy()
    x.reshape(-1)[0] = value
    return x


@pytest.mark.parametrize("case", ["wrong_shape", "nan", "outside_domain"])
@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_a_value_error(name, case):
    model, x, labels, _ = _trained(name)  # fit refuses bad data before any step: the model is left as it was
    steps = [int(optimizer.iterations) for optimizer in _optimizers(model)]
    bad = {"wrong_shape": lambda: _wrong_shape(x), "nan": lambda: _with_nan(x),
           "outside_domain": lambda: _outside_domain(model, x)}[case]()
    match = {"wrong_shape": "expected .* shape", "nan": "NaN",
             "outside_domain": re.escape(f"{type(model).__name__} models {domains.domain_of(model).describe()}")}[case]
    if case == "outside_domain" and domains.domain_of(model).kind == "continuous":
        match = "NaN/inf"  # fit's own check of non-finite arrays answers first
    with pytest.raises(ValueError, match=match):
        if labels is None:
            model.fit(bad, batch_size=8, verbose=0)
        else:
            model.fit(bad, labels, batch_size=8, verbose=0)
    assert [int(optimizer.iterations) for optimizer in _optimizers(model)] == steps
    entry = _likelihood_entry(name, model)
    if entry is not None:
        with pytest.raises(ValueError, match=match if case != "outside_domain" else type(model).__name__):
            entry(tf.constant(bad))
