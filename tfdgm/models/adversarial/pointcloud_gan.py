"""Point Cloud GAN: a generator of point sets from a shape latent and a
permutation-invariant (DeepSets) critic."""

import keras
import tensorflow as tf

from tfdgm.models import latent_tools
from tfdgm.models.adversarial.wgan_gp import WGANGP
from tfdgm.models.base import as_seed
from tfdgm.nn.deepsets import deepsets_discriminator

__all__ = ["PointCloudGAN"]


class PointCloudGAN(WGANGP):
    """A GAN over point clouds X = {x_1..x_n} in R^d (after Li et al. 2018).

    A cloud is generated as x_i = g(u_i, s): one shape latent s ~ N(0, I)
    (the `noise_dim` noise, p_Z) shared by the cloud and independent point
    noise u_i ~ N(0, I_point_noise_dim), g an MLP applied to every point (so
    clouds of any size can be drawn). The critic is a DeepSets network
    f(X) = rho(mean_i phi(x_i)) (Zaheer et al. 2017), invariant to the order
    of the points. Training uses the WGAN-GP objective (Gulrajani et al.
    2017, eq. 3) on whole clouds (a design choice of tfdgm; Li et al. use a
    related Wasserstein objective with an inference network).

    References:
      Li, Zaheer, Zhang, Póczos & Salakhutdinov, "Point Cloud GAN", 2018,
      https://arxiv.org/abs/1810.05795
      Zaheer et al., "Deep Sets", NeurIPS 2017, https://arxiv.org/abs/1703.06114

    Arguments:
      event_shape: (num_points, point_dim), default (64, 2).
      noise_dim: size of the shape latent s (default 32).
      point_noise_dim: size of each point's noise u_i (default 8).
      hidden_units: widths of g (default [128, 128]).
      phi_units, rho_units: widths of the DeepSets critic (default [64, 64], [64]).
      n_critic, gradient_penalty_weight: as `WGANGP`.
      data_transform: preprocessing spec.
    Shapes: `generate(n)` -> [n, num_points, point_dim];
      `generate(z, seed)` with z: [n, noise_dim] draws the point noise from `seed`.
    """

    def __init__(self, event_shape=(64, 2), noise_dim=32, point_noise_dim=8, hidden_units=(128, 128),
                 phi_units=(64, 64), rho_units=(64,), n_critic=5, gradient_penalty_weight=10.0,
                 data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, noise_dim=noise_dim, hidden_units=hidden_units, n_critic=n_critic,
                         gradient_penalty_weight=gradient_penalty_weight, architecture="mlp",
                         data_transform=data_transform, name=name, **kwargs)
        if self.event_ndims != 2:
            raise ValueError(f"PointCloudGAN: expected event_shape (num_points, point_dim), got {self.event_shape}")
        self.num_points, self.point_dim = self.event_shape
        self.point_noise_dim = int(point_noise_dim)
        self.phi_units = tuple(int(u) for u in phi_units)
        self.rho_units = tuple(int(u) for u in rho_units)

    def hyperparameters(self):
        config = super().hyperparameters()
        del config["architecture"], config["base_filters"]
        return {**config, "point_noise_dim": self.point_noise_dim, "phi_units": list(self.phi_units),
                "rho_units": list(self.rho_units)}

    @classmethod
    def default_preprocess(cls, info):
        return None

    def build_generator(self):
        """g: [batch, num_points, point_noise_dim + noise_dim] -> [batch, num_points, point_dim], pointwise."""
        inputs = keras.Input((None, self.point_noise_dim + self.noise_dim), name="point_and_shape_noise")
        h = inputs
        for i, units in enumerate(self.hidden_units):
            h = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(h)
        outputs = keras.layers.Dense(self.point_dim, activation=self.output_activation(), name="points")(h)
        return keras.Model(inputs, outputs, name="generator")

    def build_discriminator(self):
        return deepsets_discriminator(self.event_shape, self.phi_units, self.rho_units)

    def discriminate(self, x, context=None, training=False):
        return self.discriminator(x, training=training)[:, 0]

    def _generate(self, z, context=None, training=False, seed=None, shared_point_noise=False):
        batch = tf.shape(z)[0]
        seed = as_seed(seed)
        noise_batch = 1 if shared_point_noise else batch
        u = tf.random.stateless_normal(tf.stack([noise_batch, self.num_points, self.point_noise_dim]), seed=seed)
        u = tf.broadcast_to(u, tf.stack([batch, self.num_points, self.point_noise_dim]))
        s = tf.broadcast_to(z[:, None, :], tf.stack([batch, self.num_points, self.noise_dim]))
        return self.generator(tf.concat([u, s], axis=-1), training=training)

    def interpolate(self, z_start=None, z_end=None, num_steps=8, method="linear", seed=None, context=None):
        """Clouds along a path between two shape latents, with the SAME point
        noise for every cloud, so the points move continuously (the seed's
        latent interpolation). -> [num_steps, num_points, point_dim]."""
        self._ensure_built()
        self.condition(context)
        if z_start is None or z_end is None:
            ends = self.noise_distribution().sample(2, seed=as_seed(seed))
            z_start = ends[0] if z_start is None else z_start
            z_end = ends[1] if z_end is None else z_end
        path = latent_tools.interpolate(z_start, z_end, num_steps=num_steps, method=method)
        return self._generate(path, seed=as_seed(0 if seed is None else seed), shared_point_noise=True)
