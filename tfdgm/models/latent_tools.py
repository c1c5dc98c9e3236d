"""Latent-space tools shared by every model with an encoder or a generator:
interpolation (linear and spherical) and attribute arithmetic.

References:
  Shoemake, "Animating rotation with quaternion curves", SIGGRAPH 1985 (slerp).
  White, "Sampling Generative Networks", 2016 (slerp for latent interpolation).
  Kingma & Dhariwal, "Glow", NeurIPS 2018, Sec. 5.2 (attribute manipulation).
"""

import tensorflow as tf

__all__ = ["interpolate", "attribute_vector", "apply_attribute"]


def interpolate(z_start, z_end, num_steps=8, method="linear"):
    """Points between two latents, endpoints included.

    Arguments:
      z_start, z_end: [*latent_shape] (or [1, *latent_shape]).
      num_steps: number of points, >= 2.
      method: "linear" (1-t) z0 + t z1, or "spherical" (slerp:
        sin((1-t)w)/sin(w) z0 + sin(tw)/sin(w) z1, w the angle between them),
        which keeps Gaussian latents at a typical norm.
    Returns:
      [num_steps, *latent_shape].
    """
    if num_steps < 2:
        raise ValueError(f"expected num_steps >= 2, got {num_steps}")
    if method not in ("linear", "spherical"):
        raise ValueError(f"expected method 'linear' or 'spherical', got {method!r}")
    z_start = tf.convert_to_tensor(z_start, tf.float32)
    z_end = tf.convert_to_tensor(z_end, tf.float32)
    if z_start.shape != z_end.shape:
        raise ValueError(f"expected latents of one shape, got {z_start.shape} and {z_end.shape}")
    if z_start.shape.rank and z_start.shape[0] == 1:
        z_start, z_end = z_start[0], z_end[0]
    t = tf.reshape(tf.linspace(0.0, 1.0, num_steps), [num_steps] + [1] * z_start.shape.rank)
    if method == "linear":
        return (1.0 - t) * z_start + t * z_end
    a, b = tf.reshape(z_start, [-1]), tf.reshape(z_end, [-1])
    cosine = tf.reduce_sum(a * b) / (tf.norm(a) * tf.norm(b) + 1e-12)
    omega = tf.acos(tf.clip_by_value(cosine, -1.0 + 1e-7, 1.0 - 1e-7))
    sin_omega = tf.sin(omega)
    # Nearly parallel latents: slerp tends to lerp; use it to avoid 0/0.
    return tf.cond(
        sin_omega < 1e-6,
        lambda: (1.0 - t) * z_start + t * z_end,
        lambda: (tf.sin((1.0 - t) * omega) * z_start + tf.sin(t * omega) * z_end) / sin_omega,
    )


def attribute_vector(z_with, z_without):
    """Mean latent of examples with an attribute minus mean latent without it.

    z_with: [n, *latent_shape], z_without: [m, *latent_shape] -> [*latent_shape].
    """
    z_with = tf.convert_to_tensor(z_with, tf.float32)
    z_without = tf.convert_to_tensor(z_without, tf.float32)
    if z_with.shape[0] == 0 or z_without.shape[0] == 0:
        raise ValueError("expected at least one example with and one without the attribute")
    return tf.reduce_mean(z_with, axis=0) - tf.reduce_mean(z_without, axis=0)


def apply_attribute(z, vector, strength=1.0):
    """z + strength * vector (negative strength removes the attribute). -> z's shape."""
    return tf.convert_to_tensor(z, tf.float32) + strength * tf.convert_to_tensor(vector, tf.float32)
