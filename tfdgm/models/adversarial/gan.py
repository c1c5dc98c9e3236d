"""GAN (Goodfellow et al. 2014) with MLP players, minimax or non-saturating generator loss."""


from tfdgm.inference import adversarial as objectives
from tfdgm.models.adversarial.base import AdversarialModel

__all__ = ["GAN"]


class GAN(AdversarialModel):
    """Generative adversarial net: min_G max_D V(D, G),
    V = E_x[log D(x)] + E_z[log(1 - D(G(z)))] (Goodfellow et al. 2014, eq. 1).

    D ascends V (`tfdgm.inference.adversarial.discriminator_loss`); G either
    descends V ("minimax") or ascends E_z[log D(G(z))] ("non_saturating",
    Sec. 3 of the paper: the same fixed point, strong gradients early on).

    References:
      Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014,
      https://arxiv.org/abs/1406.2661

    Arguments:
      event_shape: shape of one example, e.g. `(2,)`.
      noise_dim: size of z ~ N(0, I) (default 16; 100 for images).
      hidden_units: hidden widths of both MLP players (default [128, 128]).
      loss: "non_saturating" (default) or "minimax".
      architecture: "mlp" (default) or "dcgan" (images).
      data_transform: preprocessing spec (see `GenerativeModel`).
    Shapes: `generate(n)` -> [n, *event_shape]; `discriminate(x)` -> [batch] logits.

    Example:
      >>> model = GAN(event_shape=(2,))
      >>> model.compile()
      >>> model.fit(x, batch_size=256, epochs=10)      # reports d_loss, g_loss
      >>> model.generate(1000, seed=0).shape
      TensorShape([1000, 2])
    """

    def __init__(self, event_shape=(2,), noise_dim=None, hidden_units=(128, 128), loss="non_saturating",
                 architecture="mlp", data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, noise_dim=noise_dim, data_transform=data_transform, name=name, **kwargs)
        if loss not in objectives.GENERATOR_LOSSES:
            raise ValueError(f"{type(self).__name__}: expected loss in {objectives.GENERATOR_LOSSES}, got {loss!r}")
        self.loss = loss
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.architecture = self._resolve_architecture(architecture)

    def hyperparameters(self):
        return {"noise_dim": self.noise_dim, "hidden_units": list(self.hidden_units), "loss": self.loss,
                "architecture": self.architecture}

    @classmethod
    def default_hyperparameters(cls, info):
        return {"hidden_units": [256, 256]} if info.kind == "image" else {}

    def discriminator_objective(self, x, fake, context, seed):
        real_logits = self.discriminate(x, context, training=True)
        fake_logits = self.discriminate(fake, context, training=True)
        return objectives.discriminator_loss(real_logits, fake_logits), {}

    def generator_objective(self, fake, context):
        return objectives.generator_loss(self.discriminate(fake, context, training=True), self.loss)
