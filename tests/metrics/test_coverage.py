"""Mode coverage on the toy sets and k-NN precision / recall / coverage."""

import numpy as np
import pytest

from tfdgm.data import load_arrays
from tfdgm.metrics.coverage import mode_coverage, precision_recall_coverage, toy_modes


@pytest.mark.parametrize("name, num_modes", [("8gaussians", 8), ("rings", 4)])
def test_the_data_covers_every_mode_with_high_quality_samples(name, num_modes):
    x, labels = load_arrays(name, "test")
    result = mode_coverage(x, name)
    assert result["modes_covered"] == num_modes
    assert result["high_quality_fraction"] > 0.98  # 3 std: 98.9% of a 2-D Gaussian mass
    assert result["kl_to_uniform"] < 0.01


def test_a_collapsed_generator_covers_one_mode():
    centres, std = toy_modes("8gaussians")
    collapsed = centres[3] + std * np.random.default_rng(0).normal(size=(1000, 2))
    result = mode_coverage(collapsed, "8gaussians")
    assert result["modes_covered"] == 1 and result["mode_fractions"][3] > 0.95
    assert result["kl_to_uniform"] == pytest.approx(np.log(8), abs=0.01)
    far = mode_coverage(np.zeros((100, 2)), "8gaussians")  # the centre is 2.83 = 8 std from every mode
    assert far["modes_covered"] == 0 and far["high_quality_fraction"] == 0.0


def test_precision_recall_coverage_by_hand():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(300, 2))
    same = precision_recall_coverage(real, real.copy(), k=3)
    assert same == {"precision": 1.0, "recall": 1.0, "coverage": 1.0}
    far = precision_recall_coverage(real, real + 100.0, k=3)
    assert far == {"precision": 0.0, "recall": 0.0, "coverage": 0.0}
    # Fakes collapsed onto half of the real points: precise but half the recall.
    half = real[real[:, 0] > 0]
    result = precision_recall_coverage(real, half, k=3)
    assert result["precision"] == 1.0 and 0.4 < result["recall"] < 0.65 and 0.4 < result["coverage"] < 0.65
