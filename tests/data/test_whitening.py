"""ZCAWhitening: whitened covariance, the symmetric (zero-phase) matrix, inverse, saving, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfdgm.data import ZCAWhitening


def _correlated_images(n=4000, seed=0):
    """[n, 4, 3, 1] Gaussian images with a known, far from white covariance."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(12, 12)) * np.linspace(0.2, 3.0, 12)
    return (rng.normal(size=(n, 12)) @ mixing.T + rng.normal(size=12)).reshape(n, 4, 3, 1).astype(np.float32)


def test_whitened_covariance_is_the_identity_and_the_matrix_is_symmetric():
    x = _correlated_images()
    white = ZCAWhitening(epsilon=1e-9, remove_image_mean=False)
    white.adapt(x)
    z = np.asarray(white(x)).reshape(len(x), -1).astype(np.float64)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-3)
    np.testing.assert_allclose(np.cov(z.T), np.eye(12), atol=2e-3)
    matrix = np.asarray(white.whitening)
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-5)  # zero phase: W = C^(-1/2), no rotation
    assert np.all(np.linalg.eigvalsh(matrix.astype(np.float64)) > 0)


def test_epsilon_damps_the_smallest_variances_and_outputs_have_unit_variance():
    x = _correlated_images()
    flat = x.reshape(len(x), -1).astype(np.float64)
    values, vectors = np.linalg.eigh(np.cov(flat.T))
    white = ZCAWhitening(epsilon=0.1, remove_image_mean=False)
    white.adapt(x)
    z = np.asarray(white(x)).reshape(len(x), -1).astype(np.float64)
    assert abs(z.std() - 1.0) < 1e-3
    # along eigenvector k the output variance is proportional to lambda_k / (lambda_k + 0.1 lambda_max)
    along = np.var(z @ vectors, 0)
    expected = values / (values + 0.1 * values.max())
    np.testing.assert_allclose(along / along.max(), expected / expected.max(), rtol=2e-3, atol=1e-4)


def test_image_means_are_removed_and_inverse_returns_the_centred_images():
    x = _correlated_images()
    white = ZCAWhitening(epsilon=0.01)
    white.adapt(x)
    z = white(x[:50])
    assert z.shape == (50, 4, 3, 1)
    centred = x[:50] - x[:50].mean((1, 2, 3), keepdims=True)
    np.testing.assert_allclose(np.asarray(white.inverse(z)), centred, atol=1e-3)
    shifted = white(x[:50] + 7.0)  # a brighter copy of each image whitens the same
    np.testing.assert_allclose(np.asarray(shifted), np.asarray(z), atol=1e-3)


def test_adapting_on_a_dataset_of_tuples_equals_adapting_on_the_array():
    x = _correlated_images(n=1000)
    from_array, from_dataset = ZCAWhitening(), ZCAWhitening()
    from_array.adapt(x)
    from_dataset.adapt(tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(64))
    np.testing.assert_allclose(np.asarray(from_dataset(x[:20])), np.asarray(from_array(x[:20])), atol=1e-4)


def test_keras_file_round_trip_keeps_the_fitted_state(tmp_path):
    x = _correlated_images(n=500)
    white = ZCAWhitening(epsilon=0.05)
    white.adapt(x)
    model = keras.Sequential([keras.Input((4, 3, 1)), white])
    path = str(tmp_path / "white.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.layers[0].get_config()["epsilon"] == 0.05
    np.testing.assert_allclose(np.asarray(loaded(x[:10])), np.asarray(model(x[:10])), atol=1e-6)


def test_inside_a_tf_data_map():
    x = _correlated_images(n=200)
    white = ZCAWhitening()
    white.adapt(x)
    mapped = np.concatenate(list(tf.data.Dataset.from_tensor_slices(x).batch(50).map(white).as_numpy_iterator()))
    np.testing.assert_allclose(mapped, np.asarray(white(x)), atol=1e-5)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="epsilon > 0"):
        ZCAWhitening(epsilon=0.0)
    white = ZCAWhitening()
    with pytest.raises(ValueError, match="not adapted"):
        white(np.zeros((2, 4, 3, 1), np.float32))
    white = ZCAWhitening()
    with pytest.raises(ValueError, match="at least 2 examples"):
        white.adapt(np.zeros((1, 4, 3, 1), np.float32))
    white.adapt(_correlated_images(n=100))
    with pytest.raises(ValueError, match=r"expected images of shape \[n, 4, 3, 1\]"):
        white(np.zeros((2, 3, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"expected images \[n, \*event_shape\]"):
        ZCAWhitening().adapt(np.zeros(5))
