"""What every tfdgm bijector shares: a cache identity per instance."""

import itertools

__all__ = ["InstanceCache"]

_instance_counter = itertools.count()


class InstanceCache:
    """Mixin for `tfb.Bijector` subclasses: a cache identity per instance.

    TFP's bijector cache is shared by all *equal* bijectors, and two
    bijectors built from the same Keras variables compare equal (the same
    variable objects). A result computed outside a `GradientTape` (e.g.
    actnorm's data-dependent init, or `encode`) would then be returned,
    gradient-free, inside the tape, and in eager mode a result from before
    an optimizer step would be returned after it. tfdgm rebuilds bijectors
    on every call, so each instance gets a never-repeating key instead.
    """

    def _get_parameterization(self):
        if not hasattr(self, "_tfdgm_cache_key"):
            self._tfdgm_cache_key = ("tfdgm", next(_instance_counter))
        return self._tfdgm_cache_key
