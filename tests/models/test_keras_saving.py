"""`.keras` round trip of every registered model: `model.save` then
`keras.models.load_model` with only `import tfdgm`, giving back the
architecture, weights, optimizer state and non-trainable state."""

import inspect
import json
import subprocess
import sys

import numpy as np
import pytest

import keras

import tfdgm  # noqa: F401  (registers the models with Keras)
from tfdgm import models
from tests.checks.small_models import SMALL, fit_small, trained
from tests.helpers import REPO, run_python, subprocess_env

_RNG = np.random.default_rng(0)

#: With tests/test_model_contract.py on one xdist worker: they share `trained` models.
pytestmark = pytest.mark.xdist_group("small_models")


@pytest.fixture(autouse=True)
def _same_data_in_every_order():
    global _RNG
    _RNG = np.random.default_rng(0)


def _normal(*shape):
    return _RNG.normal(size=(16, *shape)).astype(np.float32)


def _outputs(model, x):
    """What a user reads from a model of each family, with fixed seeds."""
    family = model.family
    if isinstance(model, models.CycleGAN):
        a, b = model.split_couple(x)
        return {"a2b": model.translate(a, "a2b"), "b2a": model.translate(b, "b2a")}
    if family == "adversarial":
        return {"generate": model.generate(4, seed=0), "discriminate": model(x)}
    if family == "latent":
        return {"elbo": model.elbo(x, seed=0), "log_prob": model.log_prob(x, num_samples=3, seed=0),
                "sample": model.sample(3, seed=0)}
    if family == "energy":
        outputs = {"call": model(x), "features": model.features(x), "sample": model.sample(3, num_steps=2, seed=0)}
        if not isinstance(model, models.ConvDBN):  # the one energy model without a log_prob
            outputs["log_prob"] = model.log_prob(x)
        return outputs
    return {"log_prob": model.log_prob(x), "data_log_prob": model.data_log_prob(x),
            "sample": model.sample(3, seed=0)}


def _optimizers(model):
    if model.family == "adversarial":
        return [model.generator_optimizer, model.discriminator_optimizer]
    return [model.optimizer]


def _state(model):
    """Every saved value: weights (trainable and not), random seed states and
    each optimizer's variables."""
    state = {f"variable {i} {v.name}": v for i, v in enumerate(model.variables)}  # seed states included
    for k, optimizer in enumerate(_optimizers(model)):  # paths differ between processes: by position
        state.update({f"optimizer {k} variable {i}": v for i, v in enumerate(optimizer.variables)})
    return {name: np.asarray(value) for name, value in state.items()}


def _assert_same(got, want):
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_allclose(np.asarray(got[name]), np.asarray(want[name]), rtol=1e-6, atol=1e-6,
                                   err_msg=name, equal_nan=True)


@pytest.mark.parametrize("name", models.list_models())
def test_keras_file_round_trip_restores_every_state(name, tmp_path):
    if name not in SMALL:
        pytest.fail(f"registered model {name!r} has no small configuration in tests/checks/small_models.py: add one")
    model, x, labels, _ = trained(name)  # after one fit step: optimizer slots and state to restore
    data = (x, labels) if labels is not None else x
    if model.family == "energy":  # a stored AIS estimate of log Z
        model.log_partition("ais", num_runs=4, num_betas=10, seed=0)
    path = str(tmp_path / f"{name}.keras")
    model.save(path)

    loaded = keras.models.load_model(path)

    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    _assert_same(_state(loaded), _state(model))
    for optimizer, restored in zip(_optimizers(model), _optimizers(loaded)):
        assert int(restored.iterations) == int(optimizer.iterations) > 0
    _assert_same(_outputs(loaded, x), _outputs(model, x))
    before = int(_optimizers(loaded)[0].iterations)
    fit_small(loaded, data, steps=1)
    assert int(_optimizers(loaded)[0].iterations) > before


# Flows conditioned on context vectors (context_shape): (factory, (x, context)); vectors, since
# the image variants share the same context layers and their round trip costs 7-13 s each.
CONDITIONAL = {
    "maf": (lambda: models.MAF(event_shape=(3,), num_layers=2, hidden_units=(8,), batch_norm=True,
                               context_shape=(2,)), lambda: (_normal(3), _normal(2))),
    "realnvp": (lambda: models.RealNVP(event_shape=(3,), num_layers=2, hidden_units=(8,), context_shape=(2,)),
                lambda: (_normal(3), _normal(2))),
    "glow": (lambda: models.Glow(event_shape=(3,), num_steps=2, hidden_units=(8,), context_shape=(2,)),
             lambda: (_normal(3), _normal(2))),
}


@pytest.mark.parametrize("name", sorted(CONDITIONAL))
def test_a_flow_with_a_context_round_trips(name, tmp_path):
    make, make_data = CONDITIONAL[name]
    x, context = make_data()
    model = make()
    model.compile(jit_compile=False)  # the XLA step is tested in tests/models/flows/test_context.py
    model.fit((x[:16], context[:16]), batch_size=8, verbose=0)
    path = str(tmp_path / f"{name}.keras")
    model.save(path)

    loaded = keras.models.load_model(path)

    assert loaded.get_config() == model.get_config() and loaded.context_shape == (2,)
    _assert_same(_state(loaded), _state(model))
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 2
    _assert_same({"log_prob": loaded.log_prob(x, context), "sample": loaded.sample(3, seed=0, context=context[0])},
                 {"log_prob": model.log_prob(x, context), "sample": model.sample(3, seed=0, context=context[0])})
    loaded.fit((x[:8], context[:8]), batch_size=8, verbose=0)
    assert int(loaded.optimizer.iterations) == 3


def test_every_model_has_its_own_registered_keras_name():
    """`import tfdgm` also registers `tfdgm.layers`' heads, two of them named
    like models (IndependentBernoulli, IndependentLogistic)."""
    for name in models.list_models():
        cls = models.get(name)
        assert keras.saving.get_registered_name(cls) == f"tfdgm>{name}"
        assert keras.saving.get_registered_object(f"tfdgm>{name}") is cls


# Constructor arguments a subclass fixes itself (passing another value raises
# or has no effect), so its config leaves them out.
FIXED_BY_THE_CLASS = {
    "conv_dbn": {"image_shape", "num_hidden", "persistent", "num_chains"},
    "conv_rbm": {"image_shape", "num_hidden"},
    "cyclegan": {"noise_dim"},
    "dcgan": {"architecture", "hidden_units"},
    "iwae": {"beta", "kl_warmup_steps"},
    "pointcloud_gan": {"architecture", "base_filters", "clip_value"},
    "wgan_gp": {"clip_value"},
}


def test_get_config_names_every_constructor_argument():
    """What `load_model` rebuilds from: a hyper-parameter missing here would
    silently come back at its default."""
    missing = {}
    for name in models.list_models():
        cls = models.get(name)
        arguments = set()
        for klass in cls.__mro__[: cls.__mro__.index(models.GenerativeModel) + 1]:
            if "__init__" in vars(klass):
                arguments |= set(inspect.signature(klass.__init__).parameters) - {"self", "args", "kwargs"}
        absent = arguments - set(cls().get_config()) - FIXED_BY_THE_CLASS.get(name, set())
        if absent:
            missing[name] = sorted(absent)
    assert not missing


def test_model_checkpoint_keeps_the_best_epoch_and_reloads(tmp_path):
    x = _normal(3)
    model = models.MAF(event_shape=(3,), num_layers=2, hidden_units=(8,))
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    snapshots = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(model.log_prob(x)))
    path = str(tmp_path / "best.keras")
    checkpoint = keras.callbacks.ModelCheckpoint(path, monitor="nll", mode="min", save_best_only=True)
    history = model.fit(x, batch_size=8, epochs=4, callbacks=[checkpoint, record], verbose=0)

    best = int(np.argmin(history.history["nll"]))
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.log_prob(x), snapshots[best], rtol=1e-6, atol=1e-6)
    assert int(loaded.optimizer.iterations) == 2 * (best + 1)
    loaded.fit(x, batch_size=8, epochs=1, verbose=0)


def test_a_fresh_process_loads_with_import_tfdgm_alone(tmp_path):
    x = _normal(3)
    model = models.MAF(event_shape=(3,), num_layers=2, hidden_units=(8,), batch_norm=True)
    model.compile()
    model.fit(x, batch_size=8, verbose=0)
    path = str(tmp_path / "maf.keras")
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    done = run_python(
        "import json, keras, numpy as np, tfdgm\n"
        f"model = keras.models.load_model({path!r})\n"
        f"print(json.dumps(model.log_prob(np.load({str(tmp_path / 'x.npy')!r})).numpy().tolist()))"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose(json.loads(done.stdout.strip().splitlines()[-1]), model.log_prob(x),
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("command", [["-m", "tfdgm.cli", "--help"], ["-c", "import sys; sys.argv[0] = 'tfdgm'; "
                                                                     "import tfdgm; import tfdgm.cli"]])
def test_the_cli_imports_no_tensorflow_for_help(command):
    """`import tfdgm` registers the models by importing them, except in the `tfdgm` command."""
    done = subprocess.run([sys.executable, "-X", "importtime", *command], capture_output=True, text=True,
                          env=subprocess_env(), cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "tfdgm" in imported and not {"tensorflow", "keras"} & imported
