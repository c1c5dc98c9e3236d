"""The fixed feature classifier: trains to a useful accuracy; features separate real from noise."""

import numpy as np

from tfdgm.data import load_arrays
from tfdgm.metrics import classifier
from tfdgm.metrics.frechet import frechet_distance


def test_digits_classifier_is_accurate_and_its_features_rank_samples(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDGM_CACHE", str(tmp_path))
    trained = classifier.load_classifier("digits", epochs=8)
    assert trained.test_accuracy > 0.85
    assert classifier.default_dataset_for((28, 28, 1)) == "fashion_mnist"
    x, _ = load_arrays("digits", "test")
    x = x / 16.0
    train, _ = load_arrays("digits", "train")
    noise = np.random.default_rng(0).uniform(size=x.shape).astype(np.float32)
    real_features = trained.features(train / 16.0)
    # Test digits are far closer to training digits than uniform noise is.
    assert frechet_distance(real_features, trained.features(x)) < 0.2 * frechet_distance(real_features, trained.features(noise))
    # Cached: a second load reads the same weights.
    classifier._LOADED.clear()
    again = classifier.load_classifier("digits", epochs=8)
    np.testing.assert_allclose(again.features(x[:5]), trained.features(x[:5]), rtol=1e-5, atol=1e-6)
