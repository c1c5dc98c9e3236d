"""Sample-quality metrics: Frechet distance in a tfdgm classifier's features, coverage, point-cloud distances."""

from tfdgm.metrics import classifier
from tfdgm.metrics import coverage
from tfdgm.metrics import frechet
from tfdgm.metrics import pointcloud

__all__ = ['classifier', 'coverage', 'frechet', 'pointcloud']
