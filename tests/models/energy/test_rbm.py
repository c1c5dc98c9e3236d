"""Binary, Gaussian and replicated-softmax RBMs: CD-1 and PCD raise the exact
likelihood, XLA steps, seeded sampling, filters, text topics, export."""

import warnings

import numpy as np
import pytest
import tensorflow as tf

from tests.checks.export import exported_outputs
from tests.helpers import binary_states
from tfdgm.models import get
from tfdgm.models.energy import BernoulliRBM, GaussianBernoulliRBM, ReplicatedSoftmaxRBM
from tfdgm.models.energy.rbm import filters_picture


def _prototype_data(num_visible=8, num=600, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = (rng.uniform(size=(3, num_visible)) < 0.5).astype(np.float32)
    x = prototypes[rng.integers(0, 3, num)]
    return np.abs(x - (rng.uniform(size=x.shape) < 0.1)).astype(np.float32)


@pytest.mark.parametrize("persistent", [False, True], ids=["cd1", "pcd"])
def test_training_increases_the_exact_log_likelihood(persistent):
    x = _prototype_data()
    model = BernoulliRBM(event_shape=(8,), num_hidden=6, cd_steps=1, persistent=persistent)
    model.compile()
    before = float(tf.reduce_mean(model.log_prob(x)))  # exact log Z: 2**6 hidden states
    history = model.fit(x, batch_size=20, epochs=15, verbose=0)
    after = float(tf.reduce_mean(model.log_prob(x)))
    # The data's entropy is about 8 * H(0.1) + log 3 = 3.7 nats; the start is ~ -8 log 2 = -5.5.
    assert after > before + 0.8, (before, after)
    assert history.history["reconstruction_error"][-1] < history.history["reconstruction_error"][0]


def test_log_prob_is_normalized_and_reset_by_training():
    model = BernoulliRBM(event_shape=(2, 3), num_hidden=5)
    model.compile()
    model.fit(_prototype_data(6, 64).reshape(-1, 2, 3), batch_size=16, epochs=1, verbose=0)
    assert np.isnan(float(model.log_z))  # stale after training
    total = float(tf.reduce_sum(tf.exp(model.log_prob(binary_states(6).reshape(-1, 2, 3)))))
    assert abs(total - 1.0) < 1e-5


def test_hyperparameters_round_trip_through_config():
    model = BernoulliRBM(event_shape=(6,), num_hidden=3, cd_steps=5, persistent=True, momentum=0.9,
                         weight_decay=1e-3, sparsity_target=0.05)
    clone = BernoulliRBM.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    with pytest.raises(ValueError, match="cd_steps as a positive int"):
        BernoulliRBM(event_shape=(6,), cd_steps=0)


def test_sparsity_target_lowers_hidden_activity():
    x = _prototype_data(8, 600, seed=3)
    activity = {}
    for target in (None, 0.05):
        model = BernoulliRBM(event_shape=(8,), num_hidden=12, sparsity_target=target, sparsity_cost=1.0)
        model.compile()
        model.fit(x, batch_size=20, epochs=5, verbose=0)
        activity[target] = float(tf.reduce_mean(model.features(x)))
    assert activity[0.05] < activity[None] - 0.05, activity


def test_sampling_is_seeded_and_follows_training_data():
    x = _prototype_data()
    model = BernoulliRBM(event_shape=(8,), num_hidden=6)
    model.compile()
    model.fit(x, batch_size=20, epochs=15, verbose=0)
    samples = model.sample(2000, num_steps=50, seed=3).numpy()
    np.testing.assert_array_equal(samples, model.sample(2000, num_steps=50, seed=3).numpy())
    np.testing.assert_allclose(samples.mean(0), x.mean(0), atol=0.08)


def test_gaussian_rbm_learns_the_data_scale():
    rng = np.random.default_rng(4)
    x = rng.normal([2.0, -1.0], [0.3, 0.6], size=(1024, 2)).astype(np.float32)
    model = GaussianBernoulliRBM(event_shape=(2,), num_hidden=4)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.02))
    before = float(tf.reduce_mean(model.log_prob(x)))
    model.fit(x, batch_size=32, epochs=20, verbose=0)
    after = float(tf.reduce_mean(model.log_prob(x)))
    assert after > before + 1.0, (before, after)


def test_replicated_softmax_finds_topics_in_synthetic_documents():
    """Two disjoint 'topics' of 5 words: hidden units specialise to one of them."""
    rng = np.random.default_rng(5)
    vocabulary = [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)]
    topic = rng.integers(0, 2, 800)
    probs = np.where(topic[:, None] == 0, [0.2] * 5 + [0] * 5, [0] * 5 + [0.2] * 5)
    counts = np.stack([rng.multinomial(rng.integers(5, 15), p) for p in probs]).astype(np.float32)
    model = ReplicatedSoftmaxRBM(event_shape=(10,), num_hidden=4, max_length=20)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.02))
    before = float(tf.reduce_mean(model.log_prob(counts)))
    model.fit(counts, batch_size=32, epochs=10, verbose=0)
    after = float(tf.reduce_mean(model.log_prob(counts)))
    assert after > before + 1.0, (before, after)
    topics = model.top_words(vocabulary, num_words=3)
    assert any(len({word[0] for word in words}) == 1 for words in topics)
    samples = model.sample(5, num_steps=20, seed=0, document_length=7).numpy()
    assert samples.shape == (5, 10) and np.all(samples.sum(1) == 7)


def test_bag_of_words_from_a_text_folder(tmp_path):
    from tfdgm.data.text import load_bag_of_words

    (tmp_path / "one.txt").write_text("Cats chase mice. Cats sleep.")
    (tmp_path / "two.txt").write_text("Dogs chase cats and the dogs bark")
    counts, vocabulary = load_bag_of_words(str(tmp_path), vocabulary_size=3)
    assert vocabulary == ["cats", "chase", "bark"]  # by document frequency, then alphabetically
    np.testing.assert_array_equal(counts, [[2, 1, 0], [1, 1, 1]])


def test_filters_picture_tiles_the_weights():
    picture = filters_picture(np.random.default_rng(0).normal(size=(12, 7)), (4, 3), num_filters=4)
    assert picture.dtype == np.uint8 and picture.shape == (2 * 5 + 1, 2 * 4 + 1, 1)


def energy_calls(x, num_samples=4, seed=9):
    """The energy family's export signatures, called by the bare-TensorFlow reload."""
    return {"log_prob": ("log_prob", {"x": x}), "features": ("features", {"x": x}),
            "sample": ("sample", {"n": num_samples, "seed": seed}),
            "again": ("sample", {"n": num_samples, "seed": seed})}


@pytest.mark.parametrize("name", ["rbm", "dbm"])
def test_export_round_trip_in_a_fresh_process_importing_only_tensorflow(tmp_path, name):
    model = get(name)(event_shape=(6,), sampling_steps=20)
    model.compile()
    x = _prototype_data(6, 64)
    model.fit(x, batch_size=16, epochs=2, verbose=0)
    result = exported_outputs(model, energy_calls(x[:5]), tmp_path)  # the export estimates log Z (exactly: small)
    assert not np.isnan(float(model.log_z))
    np.testing.assert_allclose(result["log_prob"]["log_prob"], model.log_prob(x[:5]).numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(result["features"]["features"], model.features(x[:5]).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(result["sample"]["samples"], model.sample(4, seed=9).numpy())
    np.testing.assert_array_equal(result["sample"]["samples"], result["again"]["samples"])


def test_ais_warns_when_a_few_runs_carry_the_weights():
    """A sharp RBM annealed in 2 steps (importance sampling from the base
    rate): a few runs dominate, so AIS warns; 2,000 betas on a mild RBM do not."""
    caught = {}
    for name, scale, betas in (("sharp", 4.0, 2), ("mild", 0.1, 2000)):
        model = BernoulliRBM(event_shape=(12,), num_hidden=6)
        model.build()
        model.weights_vh.assign(np.random.default_rng(0).normal(0, scale, size=(12, 6)).astype(np.float32))
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            model.log_partition("ais", num_runs=100, num_betas=betas, seed=0)
        caught[name] = [str(r.message) for r in records if "AIS:" in str(r.message)]
    assert len(caught["sharp"]) == 1 and "of 100 runs" in caught["sharp"][0], caught
    assert caught["mild"] == [], caught


@pytest.mark.parametrize("persistent", [False, True], ids=["cd1", "pcd"])
def test_several_steps_per_call_train_the_same_rbm_as_one(persistent):
    # `fit` without batch-level callbacks runs several steps per compiled call;
    # the Gibbs seeds, momentum and persistent chains must advance exactly as
    # with one step per call.
    import keras

    x = _prototype_data(num=230)
    models = []
    for steps in (None, 1):
        keras.utils.set_random_seed(3)
        model = BernoulliRBM(event_shape=(8,), num_hidden=6, persistent=persistent, num_chains=10)
        model.compile(steps_per_execution=steps)
        model.fit(x, batch_size=20, epochs=2, verbose=0)
        models.append(model)
    assert models[0].steps_per_execution > 1 and models[1].steps_per_execution == 1
    assert int(models[0].optimizer.iterations) == int(models[1].optimizer.iterations) == 24
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
