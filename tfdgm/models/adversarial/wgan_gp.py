"""WGAN-GP (Gulrajani et al. 2017): the Wasserstein critic with a gradient penalty."""

import keras

from tfdgm.inference import adversarial as objectives
from tfdgm.models.adversarial.wgan import WGAN

__all__ = ["WGANGP"]


class WGANGP(WGAN):
    """WGAN with gradient penalty (Gulrajani et al. 2017, Alg. 1):

        L_D = E[f(G(z))] - E[f(x)] + λ E_x̂[(||∇_x̂ f(x̂)||_2 - 1)^2]     (eq. 3)

    with x̂ uniform on segments between real and generated examples; no weight
    clipping; a convolutional critic uses layer norm, not batch norm (Sec. 4).
    Reports `d_loss` (with the penalty), `g_loss` and `gradient_penalty`.

    Defaults. Images (DCGAN players): Alg. 1's "default values": λ = 10,
    n_critic = 5, Adam(α = 1e-4, β1 = 0, β2 = 0.9) for both players.
    Vectors (MLP players, e.g. `event_shape=(2,)`): n_critic = 5 and Adam's
    betas as in Alg. 1, but α = 1e-3 and λ = 1. Alg. 1's α and λ learn the
    toy sets too slowly for a usual budget: on the authors' own 8-Gaussians set
    (their gan_toy.py; std 0.014 around a circle of radius 1.41) with batch 256
    and 1600 generator steps, α = 1e-4, λ = 10 leaves 10% of the samples
    within 0.25 of a mode (3 of 8 modes); α = 1e-3 with λ = 10 reaches 39% at
    1000 steps and 78% at 2000; α = 1e-3 with λ = 1 reaches 85% with all 8
    modes at 1600 steps (α = 2e-3 diverges). The authors' toy script also
    lowers λ, to 0.1, "for toy tasks" (with α = 1e-4, β1 = 0.5, 100k steps).
    Measured in benchmarks/wgan_gp_vs_keras.py (section "toy").

    References:
      Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017,
      https://arxiv.org/abs/1704.00028 (Alg. 1; toy settings:
      https://github.com/igul222/improved_wgan_training, gan_toy.py)

    Arguments:
      event_shape, noise_dim, hidden_units, architecture, base_filters, data_transform: as `WGAN`.
      n_critic: critic updates per generator update (default 5).
      gradient_penalty_weight: λ (default 10 for images, 1 for vectors; see above).
      generator, discriminator: optional user Keras models used as the players
        (see `AdversarialModel`); e.g. a convolutional critic without batch norm.
    Default optimizer: Adam(learning rate 1e-4 for images / 1e-3 for vectors,
    beta_1=0, beta_2=0.9), one per player.

    Example:
      >>> model = WGANGP(event_shape=(2,))
      >>> model.compile()
      >>> model.fit(x, epochs=200, batch_size=256)   # reports d_loss, g_loss, gradient_penalty
    """

    metric_names = ("d_loss", "g_loss", "gradient_penalty")
    critic_normalization = "layer"

    def __init__(self, event_shape=(2,), noise_dim=None, hidden_units=(128, 128), n_critic=5,
                 gradient_penalty_weight=None, architecture=None, base_filters=64, data_transform=None, name=None,
                 **kwargs):
        super().__init__(event_shape=event_shape, noise_dim=noise_dim, hidden_units=hidden_units, n_critic=n_critic,
                         clip_value=None, architecture=architecture, base_filters=base_filters,
                         data_transform=data_transform, name=name, **kwargs)
        if gradient_penalty_weight is None:
            gradient_penalty_weight = 1.0 if self._vector_defaults() else 10.0
        if float(gradient_penalty_weight) < 0:
            raise ValueError(f"{type(self).__name__}: expected gradient_penalty_weight >= 0, got {gradient_penalty_weight!r}")
        self.gradient_penalty_weight = float(gradient_penalty_weight)

    def _vector_defaults(self):
        """Whether the toy (vector, MLP players) defaults apply rather than Alg. 1's image ones."""
        return self.event_ndims == 1 and self.architecture == "mlp"

    @property
    def default_learning_rate(self):
        """α of Adam: 1e-4 (Alg. 1) for images, 1e-3 for vectors (see the class docstring)."""
        return 1e-3 if self._vector_defaults() else 1e-4

    def hyperparameters(self):
        config = super().hyperparameters()
        del config["clip_value"]
        return {**config, "gradient_penalty_weight": self.gradient_penalty_weight}

    def make_optimizer(self, learning_rate=None, *, epochs=None, steps_per_epoch=None, player=None):
        """Adam(beta_1=0, beta_2=0.9) for both players (Gulrajani et al. 2017, Alg. 1)."""
        return keras.optimizers.Adam(self._rate(learning_rate), beta_1=0.0, beta_2=0.9)

    def discriminator_objective(self, x, fake, context, seed):
        wasserstein, _ = super().discriminator_objective(x, fake, context, seed)
        penalty = objectives.gradient_penalty(
            lambda points: self.discriminate(points, context, training=True), x, fake, seed
        )
        return wasserstein + self.gradient_penalty_weight * penalty, {"gradient_penalty": penalty}
