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

    References:
      Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017,
      https://arxiv.org/abs/1704.00028

    Arguments:
      event_shape, noise_dim, hidden_units, architecture, base_filters, data_transform: as `WGAN`.
      n_critic: critic updates per generator update (default 5).
      gradient_penalty_weight: λ (default 10).
    Default optimizer: Adam(1e-4, beta_1=0, beta_2=0.9) (Alg. 1's defaults).
    """

    metric_names = ("d_loss", "g_loss", "gradient_penalty")
    default_learning_rate = 1e-4
    critic_normalization = "layer"

    def __init__(self, event_shape=(2,), noise_dim=None, hidden_units=(128, 128), n_critic=5,
                 gradient_penalty_weight=10.0, architecture=None, base_filters=64, data_transform=None, name=None,
                 **kwargs):
        super().__init__(event_shape=event_shape, noise_dim=noise_dim, hidden_units=hidden_units, n_critic=n_critic,
                         clip_value=None, architecture=architecture, base_filters=base_filters,
                         data_transform=data_transform, name=name, **kwargs)
        if float(gradient_penalty_weight) < 0:
            raise ValueError(f"{type(self).__name__}: expected gradient_penalty_weight >= 0, got {gradient_penalty_weight!r}")
        self.gradient_penalty_weight = float(gradient_penalty_weight)

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
