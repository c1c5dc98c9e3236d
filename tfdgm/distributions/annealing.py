"""The annealing path of annealed importance sampling, as a plain object.

A distribution that AIS can estimate the normalizer of builds its path
p_0 -> p_1 (a tractable base, the intermediate unnormalized densities and a
transition kernel leaving each invariant); `tfdgm.inference.ais` runs it.

References:
  Neal, "Annealed importance sampling", Statistics and Computing 2001.
  Salakhutdinov & Murray, "On the quantitative analysis of deep belief
  networks", ICML 2008 (Sec. 3-4).
"""

import collections

__all__ = ["AnnealingPath"]

AnnealingPath = collections.namedtuple(
    "AnnealingPath", ["log_z_base", "sample_base", "log_unnormalized", "transition"]
)
AnnealingPath.__doc__ = """The four pieces of an annealing path p_0 -> p_1 (see the module docstring).

  log_z_base: log Z_0, a scalar (or [...] for a batch of targets).
  sample_base: (num_runs, seed) -> state with leading axis num_runs.
  log_unnormalized: (state, beta) -> log p*_beta(state): [num_runs, ...].
  transition: (state, beta, seed) -> state, a p_beta-invariant kernel.
"""
