"""The base of every tfdgm bijector: a map and its log-determinant written
once, and one per-instance cache from which TFP's four methods are read."""

import itertools

import tensorflow as tf
import tensorflow_probability as tfp

# TFP's own bijector cache (the one `tfb.FFJORD` uses to store forward and
# log-det from one ODE solve): weak references to the tensors, freed with them.
from tensorflow_probability.python.internal import cache_util

tfb = tfp.bijectors

__all__ = ["Bijector", "InstanceCache"]

_instance_counter = itertools.count()
_GRAPH = "_tfdgm_graph"


def _current_graph():
    """The graph a cache entry belongs to: None when eager, else the FuncGraph being traced."""
    return None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()


class _InstanceBijectorCache(cache_util.BijectorCacheWithGreedyAttrs):
    """TFP's bijector cache, keyed also by the graph being built.

    A `tf.cond` branch or a `tf.while_loop` body is a graph of its own that
    reads the outer graph's tensors as they are: the same tensor can be an
    input inside the branch and outside it, and an output computed inside
    must not be returned outside (`InaccessibleTensorError`). The graph is
    added to the call's keyword arguments, which TFP's cache makes part of
    every key, and removed before the bijector is called.
    """

    def _lookup(self, input, forward_name, inverse_name, **kwargs):  # noqa: A002 (TFP's name)
        return super()._lookup(input, forward_name, inverse_name, **kwargs, **{_GRAPH: _current_graph()})

    def _attributes(self, input, fn_name, **kwargs):  # noqa: A002
        return super()._attributes(input, fn_name, **kwargs, **{_GRAPH: _current_graph()})

    def _invoke(self, input, fn_name, kwargs, attributes):  # noqa: A002
        kwargs = {key: value for key, value in kwargs.items() if key != _GRAPH}
        return super()._invoke(input, fn_name, kwargs, attributes)


class InstanceCache:
    """Mixin for `tfb.Bijector` subclasses: a cache of their own, per instance.

    TFP's bijector cache is one store shared by all *equal* bijectors, and
    two bijectors built from the same Keras variables compare equal (the
    same variable objects). A result computed outside a `GradientTape` (e.g.
    actnorm's data-dependent init, or `encode`) would then be returned,
    gradient-free, inside the tape, and in eager mode a result from before
    an optimizer step would be returned after it. tfdgm rebuilds bijectors
    on every call, so each instance gets a never-repeating key and its own
    store, which dies with the instance (a shared store would keep every
    traced graph alive through its cached tensors). Entries are also keyed
    by graph (`_InstanceBijectorCache`).

    Used alone on a TFP bijector (`tfb.Scale` in `scaling.py`) it keeps the
    TFP maths and changes only the cache; `Bijector` adds the one-pass maps.
    """

    _TF_MODULE_IGNORED_PROPERTIES = tfb.Bijector._TF_MODULE_IGNORED_PROPERTIES.union(
        ("_tfdgm_cache_storage", "_tfdgm_cache_key"))

    def _get_parameterization(self):
        if "_tfdgm_cache_key" not in self.__dict__:
            # object.__setattr__: tf.Module's tracking would wrap what it stores.
            object.__setattr__(self, "_tfdgm_cache_key", ("tfdgm", next(_instance_counter)))
        return self._tfdgm_cache_key

    @property
    def _cache(self):
        if "_tfdgm_cache_storage" not in self.__dict__:
            object.__setattr__(self, "_tfdgm_cache_storage", cache_util.EphemeralDict())
        return _InstanceBijectorCache(forward_name="_forward_and_attributes",
                                      inverse_name="_inverse_and_attributes", bijector=self,
                                      bijector_class=type(self), storage=self._tfdgm_cache_storage)

    def _forward_and_attributes(self, x, **kwargs):
        return self._forward(x, **kwargs), None

    def _inverse_and_attributes(self, y, **kwargs):
        return self._inverse(y, **kwargs), None


class Bijector(InstanceCache, tfb.Bijector):
    """A TFP bijector written as two one-pass maps (distrax's protocol):

        forward_and_log_det(x) -> (y, log|det dy/dx|),
        inverse_and_log_det(y) -> (x, log|det dx/dy|),

    each log-determinant reduced over the `forward_min_event_ndims` /
    `inverse_min_event_ndims` rightmost axes (TFP's convention for
    `_forward_log_det_jacobian`; TFP sums any further event axes). A
    subclass implements these two and not TFP's four methods.

    TFP's `_forward`, `_inverse`, `_forward_log_det_jacobian` and
    `_inverse_log_det_jacobian` are read from one cache: a map's result is
    stored with its log-determinant (TFP's cache "attributes"), so any TFP
    call sequence at the same tensor, e.g. `TransformedDistribution.log_prob`
    (inverse, then inverse log-det) or `sample_and_log_prob` (forward, then
    inverse log-det at the output), runs the map once. The cache is per
    instance and per graph (`InstanceCache`), so it is safe under
    `tf.function`, XLA and re-tracing.

    References:
      DeepMind, distrax, `distrax.Bijector.forward_and_log_det`,
      https://github.com/google-deepmind/distrax
    """

    def forward_and_log_det(self, x):
        """(y, log|det dy/dx|) for x: [..., *event_shape]; uncached."""
        raise NotImplementedError(f"{type(self).__name__}.forward_and_log_det")

    def inverse_and_log_det(self, y):
        """(x, log|det dx/dy|) for y: [..., *event_shape]; uncached."""
        raise NotImplementedError(f"{type(self).__name__}.inverse_and_log_det")

    def _forward_and_attributes(self, x, **kwargs):
        y, log_det = self.forward_and_log_det(x, **kwargs)
        return y, {"ildj": -log_det}

    def _inverse_and_attributes(self, y, **kwargs):
        x, log_det = self.inverse_and_log_det(y, **kwargs)
        return x, {"ildj": log_det}

    def _forward(self, x, **kwargs):
        return self._cache.forward(x, **kwargs)

    def _inverse(self, y, **kwargs):
        return self._cache.inverse(y, **kwargs)

    def _forward_log_det_jacobian(self, x, **kwargs):
        self._cache.forward(x, **kwargs)  # runs forward_and_log_det unless cached
        return -self._cache.forward_attributes(x, **kwargs)["ildj"]

    def _inverse_log_det_jacobian(self, y, **kwargs):
        self._cache.inverse(y, **kwargs)
        return self._cache.inverse_attributes(y, **kwargs)["ildj"]
