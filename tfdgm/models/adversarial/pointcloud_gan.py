"""Point Cloud GAN: a generator of point sets from a shape latent, a
permutation-invariant (DeepSets) critic, and a DeepSets encoder from a cloud to its shape latent."""

import keras
import tensorflow as tf

from tfdgm import rng
from tfdgm.models import latent_tools
from tfdgm.models.adversarial.wgan_gp import WGANGP
from tfdgm.models.base import as_seed
from tfdgm.metrics.pointcloud import chamfer_distance
from tfdgm.nn.deepsets import deepsets_discriminator, deepsets_encoder

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
    related Wasserstein objective over the points of each cloud).

    Inference: an encoder s = Q(X) = rho_Q(max_i phi_Q(x_i)), a second DeepSets
    network, maps a real cloud to its shape latent. As the inference network Q
    of Li et al. (2018, Sec. 3, "G(u, Q(X))"), it is trained jointly with g:
    the generator step adds λ_rec CD(g(u, Q(X)), X), the Chamfer distance
    (Fan et al. 2017, eq. 1) between a real cloud and its reconstruction from
    fresh point noise, to the adversarial loss; Q and g share that gradient.
    Why an encoder rather than optimizing s per cloud: it is amortized (one
    forward pass, exportable, no inner loop or restarts), and it is exactly
    permutation-invariant by construction (max pooling), so the latent of a
    cloud does not depend on how its points are listed. The encoded latents
    are not pushed towards p_Z (Li et al. fit a second generator to them for
    sampling); `generate` still samples s from p_Z.
    `interpolate(cloud_a, cloud_b, num_steps)` walks between Q(cloud_a) and
    Q(cloud_b) (the seed's latent interpolation, between two real clouds).

    References:
      Li, Zaheer, Zhang, Póczos & Salakhutdinov, "Point Cloud GAN", 2018,
      https://arxiv.org/abs/1810.05795
      Zaheer et al., "Deep Sets", NeurIPS 2017, https://arxiv.org/abs/1703.06114
      Qi et al., "PointNet", CVPR 2017 (max pooling over points).
      Fan, Su & Guibas, "A Point Set Generation Network", CVPR 2017 (Chamfer distance).

    Arguments:
      event_shape: (num_points, point_dim), default (64, 2).
      noise_dim: size of the shape latent s (default 32).
      point_noise_dim: size of each point's noise u_i (default 8).
      hidden_units: widths of g (default [128, 128]).
      phi_units, rho_units: widths of the DeepSets critic and encoder (default [64, 64], [64]).
      n_critic, gradient_penalty_weight: as `WGANGP`.
      reconstruction_weight: λ_rec of the encoder's Chamfer reconstruction term
        (default 1; 0 leaves the encoder untrained and the GAN as without it).
      data_transform: preprocessing spec.
    Shapes: `generate(n)` -> [n, num_points, point_dim];
      `generate(z, seed)` with z: [n, noise_dim] draws the point noise from `seed`;
      `encode(x)`: [n, any number of points, point_dim] -> [n, noise_dim].
    """

    metric_names = ("d_loss", "g_loss", "gradient_penalty", "reconstruction_chamfer")
    accepts_user_players = False  # g, the critic and the encoder Q work on point sets together
    default_learning_rate = 1e-4  # Alg. 1 of Gulrajani et al. (not WGANGP's vector default)

    def __init__(self, event_shape=(64, 2), noise_dim=32, point_noise_dim=8, hidden_units=(128, 128),
                 phi_units=(64, 64), rho_units=(64,), n_critic=5, gradient_penalty_weight=10.0,
                 reconstruction_weight=1.0, data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, noise_dim=noise_dim, hidden_units=hidden_units, n_critic=n_critic,
                         gradient_penalty_weight=gradient_penalty_weight, architecture="mlp",
                         data_transform=data_transform, name=name, **kwargs)
        if self.event_ndims != 2:
            raise ValueError(f"PointCloudGAN: expected event_shape (num_points, point_dim), got {self.event_shape}")
        if float(reconstruction_weight) < 0:
            raise ValueError(f"PointCloudGAN: expected reconstruction_weight >= 0, got {reconstruction_weight!r}")
        self.num_points, self.point_dim = self.event_shape
        self.point_noise_dim = int(point_noise_dim)
        self.phi_units = tuple(int(u) for u in phi_units)
        self.rho_units = tuple(int(u) for u in rho_units)
        self.reconstruction_weight = float(reconstruction_weight)
        self.encoder = None

    def hyperparameters(self):
        config = super().hyperparameters()
        del config["architecture"], config["base_filters"]
        return {**config, "point_noise_dim": self.point_noise_dim, "phi_units": list(self.phi_units),
                "rho_units": list(self.rho_units), "reconstruction_weight": self.reconstruction_weight}

    @classmethod
    def default_preprocess(cls, info, params=None):
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

    def build(self, input_shape=None):
        """Builds g, the critic and the encoder Q from shapes."""
        super().build(input_shape)
        self.encoder = deepsets_encoder(self.point_dim, self.noise_dim, self.phi_units, self.rho_units)

    def generator_variables(self):
        """g and the encoder Q: the generator step trains both (Q through the reconstruction term)."""
        return list(self.generator.trainable_variables) + list(self.encoder.trainable_variables)

    def discriminate(self, x, context=None, training=False):
        return self.discriminator(x, training=training)[:, 0]

    def _generate(self, z, context=None, training=False, seed=None, shared_point_noise=False):
        batch = tf.shape(z)[0]
        seed = as_seed(seed)
        noise_batch = 1 if shared_point_noise else batch
        u = rng.normal(tf.stack([noise_batch, self.num_points, self.point_noise_dim]), seed)
        u = tf.broadcast_to(u, tf.stack([batch, self.num_points, self.point_noise_dim]))
        s = tf.broadcast_to(z[:, None, :], tf.stack([batch, self.num_points, self.noise_dim]))
        return self.generator(tf.concat([u, s], axis=-1), training=training)

    # ------------------------------------------------------------ inference
    def _check_clouds(self, x, argument="x"):
        x = tf.convert_to_tensor(x, tf.float32)
        if x.shape.rank != 3 or x.shape[-1] != self.point_dim:
            raise ValueError(f"PointCloudGAN: expected {argument} of shape [batch, num_points, {self.point_dim}], "
                             f"got {list(x.shape)}")
        return x

    def encode(self, x):
        """The shape latents Q(X) of clouds x: [batch, n, point_dim] (any n) -> [batch, noise_dim]."""
        self._ensure_built()
        return self.encoder(self._check_clouds(x), training=False)

    def reconstruct(self, x, seed=None):
        """g(u, Q(X)) with point noise u from `seed`: [batch, n, point_dim] -> [batch, num_points, point_dim]."""
        return self._generate(self.encode(x), seed=as_seed(0 if seed is None else seed))

    def generator_regularizer(self, x, context, seed):
        """λ_rec mean_X CD(g(u, Q(X)), X) (Li et al. 2018's G(u, Q(X)), with a Chamfer distance)."""
        reconstruction = self._generate(self.encoder(x, training=True), training=True, seed=seed)
        chamfer = tf.reduce_mean(chamfer_distance(reconstruction, x))
        return self.reconstruction_weight * chamfer, {"reconstruction_chamfer": chamfer}

    def _shape_latent(self, end, drawn):
        """An interpolation end: None -> `drawn`; [noise_dim] -> itself; a cloud [n, point_dim] -> Q(cloud)."""
        if end is None:
            return drawn
        end = tf.convert_to_tensor(end, tf.float32)
        if end.shape.rank == 2:
            return self.encode(end[None])[0]
        if end.shape.rank != 1 or end.shape[0] != self.noise_dim:
            raise ValueError(f"PointCloudGAN: expected an interpolation end that is a cloud [num_points, "
                             f"{self.point_dim}] or a shape latent [{self.noise_dim}], got shape {list(end.shape)}")
        return end

    def interpolate(self, start=None, end=None, *, num_steps=8, method="linear", seed=None, context=None):
        """Clouds along a path between two shape latents, with the SAME point
        noise for every cloud, so the points move continuously (the seed's
        latent interpolation). -> [num_steps, num_points, point_dim].

        Arguments:
          start, end: real clouds [n, point_dim] (encoded by Q), shape latents
            [noise_dim], or None (drawn from p_Z with `seed`).
          num_steps: clouds on the path, endpoints included.
          method: "linear" or "spherical".
          seed: seed of the point noise (and of drawn ends).
        """
        self._ensure_built()
        self.condition(context)
        drawn = self.noise_distribution().sample(2, seed=as_seed(seed))
        path = latent_tools.interpolate(self._shape_latent(start, drawn[0]), self._shape_latent(end, drawn[1]),
                                        num_steps=num_steps, method=method)
        return self._generate(path, seed=as_seed(0 if seed is None else seed), shared_point_noise=True)

    def figures(self, examples=None, *, seed=0, num_steps=8):
        """Run-directory pictures: "reconstructions" (x, g(u, Q(x)) pairs,
        [2n, num_points, point_dim]) and "interpolations" (a path between the
        first two real clouds of x, [num_steps, num_points, point_dim])."""
        if examples is None:
            return super().figures(seed=seed)
        x = self._check_clouds(examples)
        pairs = tf.reshape(tf.stack([x, self.reconstruct(x)], 1), [-1, *self.event_shape])
        return {"reconstructions": pairs, "interpolations": self.interpolate(x[0], x[1], num_steps=num_steps)}

    def export_signatures(self):
        """`sample`, `generate` (as every GAN) and `encode(x)` -> {"z": Q(x)}."""
        return {**super().export_signatures(),
                "encode": (lambda x: {"z": self.encode(x)},
                           [tf.TensorSpec([None, None, self.point_dim], tf.float32, name="x")])}
