"""Exact log Z by enumeration against brute force over all joint states."""

import numpy as np

from tests.helpers import binary_states
from tfdgm.distributions import enumeration
from tfdgm.distributions.rbm import rbm_log_partition


def _brute_force_rbm(w, b, c):
    v, h = binary_states(w.shape[0]).astype(np.float64), binary_states(w.shape[1]).astype(np.float64)
    minus_energy = (v @ b)[:, None] + (h @ c)[None, :] + v @ w @ h.T
    top = minus_energy.max()
    return top + np.log(np.exp(minus_energy - top).sum())


def test_rbm_log_partition_matches_brute_force_either_layer_enumerated():
    rng = np.random.default_rng(0)
    for shape in [(4, 7), (8, 3)]:
        w = rng.normal(0, 1, shape).astype(np.float32)
        b, c = rng.normal(size=shape[0]).astype(np.float32), rng.normal(size=shape[1]).astype(np.float32)
        np.testing.assert_allclose(float(rbm_log_partition(w, b, c)), _brute_force_rbm(w, b, c), rtol=1e-6)


def test_enumeration_is_chunked_and_order_free():
    """2**15 states cross two chunks; swapping the layers' roles changes nothing."""
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.3, (15, 16)).astype(np.float32)
    b, c = rng.normal(size=15).astype(np.float32), rng.normal(size=16).astype(np.float32)
    np.testing.assert_allclose(float(rbm_log_partition(w, b, c)), float(rbm_log_partition(w.T, c, b)),
                               rtol=1e-6)


def test_binary_states_match_the_test_helper():
    np.testing.assert_array_equal(enumeration.binary_states(5).numpy(), binary_states(5))


def test_refuses_too_many_states():
    import pytest

    with pytest.raises(ValueError, match="use AIS"):
        enumeration.log_sum_over_states(lambda s: s[:, 0], 30)
