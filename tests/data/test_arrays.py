"""`tfdgm.data.arrays`: the batches `fit` makes of a NumPy array."""

import numpy as np
import pytest

from tfdgm.data.arrays import array_batches


def _rows(n=23, width=3):
    return np.arange(n * width, dtype=np.float32).reshape(n, width)


def test_unshuffled_batches_are_the_array_in_order_with_a_partial_last_batch():
    x = _rows()
    batches = [b.numpy() for b in array_batches(x, batch_size=5, shuffle=False)]
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate(batches), x)
    assert int(array_batches(x, batch_size=5).cardinality()) == 5


def test_each_epoch_is_a_new_permutation_of_all_rows():
    x = _rows()
    dataset = array_batches(x, batch_size=4, shuffle=True)
    epochs = [np.concatenate([b.numpy() for b in dataset]) for _ in range(2)]
    for epoch in epochs:
        np.testing.assert_array_equal(epoch[np.argsort(epoch[:, 0])], x)
    assert not np.array_equal(epochs[0], epochs[1])


def test_rejects_an_empty_array():
    with pytest.raises(ValueError, match="non-empty"):
        array_batches(np.zeros((0, 3), np.float32), batch_size=4)


def test_batches_have_a_static_batch_dimension_when_the_size_divides_the_rows():
    x = np.arange(24, dtype=np.float32).reshape(12, 2)
    assert array_batches(x, batch_size=4).element_spec.shape.as_list() == [4, 2]
    assert array_batches(x, batch_size=5).element_spec.shape.as_list() == [None, 2]
    assert sum(int(b.shape[0]) for b in array_batches(x, batch_size=4, shuffle=False)) == 12
