"""The objectives of adversarial training, as functions of discriminator
outputs: the GAN value function and its generator losses, the Wasserstein
critic losses, the gradient penalty, weight clipping and cycle consistency.

References:
  Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. 1 and Sec. 3.
  Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017, Alg. 1.
  Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017, eq. 3, Alg. 1.
  Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent
  Adversarial Networks", ICCV 2017, eq. 2-3 and Sec. 5.2 (identity loss).
"""

import tensorflow as tf

from tfdgm import rng

__all__ = [
    "GENERATOR_LOSSES",
    "discriminator_loss",
    "generator_loss",
    "critic_loss",
    "critic_generator_loss",
    "gradient_penalty",
    "clip_weights",
    "cycle_consistency_loss",
]

GENERATOR_LOSSES = ("minimax", "non_saturating")


def discriminator_loss(real_logits, fake_logits):
    """-V(D, G) of Goodfellow et al. (2014, eq. 1), minimized by D.

    V = E_x[log D(x)] + E_z[log(1 - D(G(z)))], with D = sigmoid(logits), so
    the loss is mean softplus(-l_real) + mean softplus(l_fake) (stable form).

    Arguments:
      real_logits: [batch] or [batch, 1] logits of D on data.
      fake_logits: [batch] or [batch, 1] logits of D on generated samples.
    Returns:
      scalar, nats.
    """
    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))


def generator_loss(fake_logits, loss="non_saturating"):
    """The generator's loss on D's logits of generated samples.

    "minimax": minimizes E_z[log(1 - D(G(z)))] = -mean softplus(l_fake)
      (Goodfellow et al. 2014, eq. 1; saturates when D rejects G's samples).
    "non_saturating": maximizes E_z[log D(G(z))], i.e. minimizes
      mean softplus(-l_fake) (Goodfellow et al. 2014, Sec. 3).

    Arguments:
      fake_logits: [batch] or [batch, 1].
      loss: "minimax" or "non_saturating".
    """
    if loss == "minimax":
        return -tf.reduce_mean(tf.nn.softplus(fake_logits))
    if loss == "non_saturating":
        return tf.reduce_mean(tf.nn.softplus(-fake_logits))
    raise ValueError(f"expected loss in {GENERATOR_LOSSES}, got {loss!r}")


def critic_loss(real_scores, fake_scores):
    """Wasserstein critic loss E[f(G(z))] - E[f(x)] (Arjovsky et al. 2017, Alg. 1
    line 5, negated to be minimized). Its negative estimates W(P_r, P_g) for a
    1-Lipschitz f."""
    return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)


def critic_generator_loss(fake_scores):
    """Wasserstein generator loss -E[f(G(z))] (Arjovsky et al. 2017, Alg. 1 line 10)."""
    return -tf.reduce_mean(fake_scores)


def gradient_penalty(critic, real, fake, seed, context=None):
    """E_x̂[(||∇_x̂ f(x̂)||_2 - 1)^2] on random interpolates (Gulrajani et al. 2017, eq. 3).

    x̂ = ε x + (1 - ε) x̃ with ε ~ U[0, 1] per example (Alg. 1, lines 4-6); the
    norm is over all event axes of one example. Differentiable (the nested
    tape records the gradient), and XLA-compilable.

    Arguments:
      critic: callable f(x) or f(x, context) -> [batch] or [batch, 1].
      real, fake: [batch, *event_shape].
      seed: stateless seed, int32 [2].
      context: optional second argument of the critic.
    Returns:
      scalar penalty (to be multiplied by λ).
    """
    batch = tf.shape(real)[0]
    epsilon_shape = tf.concat([[batch], tf.ones([real.shape.rank - 1], tf.int32)], 0)
    epsilon = rng.uniform(epsilon_shape, seed, dtype=real.dtype)
    interpolates = epsilon * real + (1.0 - epsilon) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        scores = critic(interpolates) if context is None else critic(interpolates, context)
    gradients = tape.gradient(scores, interpolates)
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=tf.range(1, real.shape.rank)) + 1e-12)
    return tf.reduce_mean(tf.square(norms - 1.0))


def clip_weights(variables, clip_value):
    """w <- clip(w, -c, c) for every variable (Arjovsky et al. 2017, Alg. 1 line 7)."""
    for variable in variables:
        variable.assign(tf.clip_by_value(variable, -clip_value, clip_value))


def cycle_consistency_loss(x, reconstruction):
    """L1 cycle loss E||F(G(x)) - x||_1 (Zhu et al. 2017, eq. 2), as a mean over
    every element (not a per-example sum), so λ does not depend on the image size.

    Arguments:
      x, reconstruction: [batch, *event_shape].
    """
    return tf.reduce_mean(tf.abs(reconstruction - x))
