"""Block Gibbs chains with stateless seeds: the sampler of every energy-based model.

A chain is a `step(state, seed) -> state` function run for a number of steps
inside one `tf.while_loop`, so that it compiles (XLA included) and a fixed
`[2]` seed repeats the chain exactly.

References:
  Geman & Geman, "Stochastic relaxation, Gibbs distributions, and the Bayesian
  restoration of images", IEEE PAMI 1984.
  Hinton, "Training products of experts by minimizing contrastive divergence",
  Neural Computation 2002 (block Gibbs in RBMs).
"""

import tensorflow as tf

from tfdgm import rng

__all__ = ["bernoulli", "split_seed", "run_chain"]


# Philox draws (`tfdgm.rng`): fast under XLA on CPU too.
split_seed = rng.split  # [2] seed -> [num, 2] independent seeds
bernoulli = rng.bernoulli  # (probs, seed) -> a binary sample shaped and typed like probs


def run_chain(step, state, num_steps, seed):
    """Runs `state <- step(state, seed_t)` for `num_steps` steps.

    Arguments:
      step: `(state, seed) -> state`, state any nest of tensors of fixed shape.
      state: the initial state.
      num_steps: Python int or int scalar tensor (0 returns `state`).
      seed: stateless `[2]` int seed; step t uses the t-th split.
    Returns:
      the final state.
    """

    def body(t, state, seed):
        seed, step_seed = tf.unstack(split_seed(seed, 2))
        return t + 1, step(state, step_seed), seed

    _, state, _ = tf.while_loop(
        lambda t, *_: t < num_steps,
        body,
        (tf.constant(0, tf.int32), state, tf.cast(seed, tf.int32)),
    )
    return state
