"""Wasserstein GAN (Arjovsky et al. 2017): weight-clipped critic, n_critic updates, RMSProp."""

import keras

from tfdgm.inference import adversarial as objectives
from tfdgm.models.adversarial.base import AdversarialModel

__all__ = ["WGAN"]


class WGAN(AdversarialModel):
    """WGAN: min_G max_{f in F} E_x[f(x)] - E_z[f(G(z))] (Arjovsky et al. 2017, Alg. 1).

    The critic f takes `n_critic` RMSProp steps per generator step; after each
    one its weights are clipped to [-c, c] (Alg. 1, line 7), a crude way to
    keep f K-Lipschitz. `d_loss` = E[f(G(z))] - E[f(x)], whose negative
    estimates the Wasserstein-1 distance (up to K).

    References:
      Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017,
      https://arxiv.org/abs/1701.07875

    Arguments:
      event_shape: shape of one example.
      noise_dim: size of z (default 16; 100 for images).
      hidden_units: MLP widths (default [128, 128]).
      n_critic: critic updates per generator update (default 5).
      clip_value: c of the weight clipping (default 0.01).
      architecture: None (MLP for vectors, DCGAN for images), "mlp" or "dcgan".
      base_filters: filters of the convolutional players (default 64).
      data_transform: preprocessing spec.
    Default optimizer: RMSProp(5e-5) for both players (Alg. 1's defaults).
    """

    default_learning_rate = 5e-5

    def __init__(self, event_shape=(2,), noise_dim=None, hidden_units=(128, 128), n_critic=5, clip_value=0.01,
                 architecture=None, base_filters=64, data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, noise_dim=noise_dim, data_transform=data_transform, name=name, **kwargs)
        self.base_filters = int(base_filters)
        if isinstance(n_critic, bool) or int(n_critic) != n_critic or n_critic < 1:
            raise ValueError(f"{type(self).__name__}: expected n_critic a positive int, got {n_critic!r}")
        self.n_critic = int(n_critic)
        self.clip_value = None if clip_value is None else float(clip_value)
        if self.clip_value is not None and self.clip_value <= 0:
            raise ValueError(f"{type(self).__name__}: expected clip_value > 0 or None, got {clip_value!r}")
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.architecture = self._resolve_architecture(architecture)

    def hyperparameters(self):
        return {"noise_dim": self.noise_dim, "hidden_units": list(self.hidden_units), "n_critic": self.n_critic,
                "clip_value": self.clip_value, "architecture": self.architecture, "base_filters": self.base_filters}

    def make_optimizer(self, learning_rate=None, *, epochs=None, steps_per_epoch=None, player=None):
        """RMSProp for both players (Arjovsky et al. 2017, Alg. 1)."""
        return keras.optimizers.RMSprop(self._rate(learning_rate))

    def discriminator_objective(self, x, fake, context, seed):
        real_scores = self.discriminate(x, context, training=True)
        fake_scores = self.discriminate(fake, context, training=True)
        return objectives.critic_loss(real_scores, fake_scores), {}

    def generator_objective(self, fake, context):
        return objectives.critic_generator_loss(self.discriminate(fake, context, training=True))

    def after_discriminator_step(self):
        if self.clip_value is not None:  # Alg. 1, line 7
            objectives.clip_weights(self.discriminator_variables(), self.clip_value)
