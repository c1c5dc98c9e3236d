"""tfdgm.rng: Philox draws with the right distribution, repeatable from a
seed, in plain TensorFlow and under XLA."""

import numpy as np
import pytest
import tensorflow as tf

from tfdgm import rng
from tfdgm.distributions.gibbs import bernoulli


@pytest.mark.parametrize("jit_compile", [False, True])
def test_draws_follow_their_distributions(jit_compile):
    @tf.function(jit_compile=jit_compile)
    def draw(seed):
        return (rng.uniform([200_000], seed), rng.normal([200_000], rng.fold_in(seed, 1)),
                bernoulli(tf.fill([200_000], 0.3), rng.split(seed, 3)[2]),
                rng.uniform([200_000], seed, minval=0, maxval=7, dtype=tf.int32))

    u, z, b, k = (t.numpy() for t in draw(tf.constant([1, 2])))
    # Standard errors: uniform mean 0.00065, normal mean 0.0022, Bernoulli mean 0.001; 5 of them each.
    assert abs(u.mean() - 0.5) < 0.004 and 0.0 <= u.min() and u.max() < 1.0
    assert abs(z.mean()) < 0.012 and abs(z.std() - 1.0) < 0.01
    assert abs(b.mean() - 0.3) < 0.005 and set(np.unique(b)) == {0.0, 1.0}
    counts = np.bincount(k, minlength=7)
    assert len(counts) == 7 and np.all(np.abs(counts / 200_000 - 1 / 7) < 0.004)
    # Another seed gives other numbers; the same seed the same ones.
    again, other = draw(tf.constant([1, 2]))[0].numpy(), draw(tf.constant([1, 3]))[0].numpy()
    np.testing.assert_array_equal(u, again)
    assert np.mean(u == other) < 0.01
