"""DCGAN (Radford et al. 2016): the GAN objective with convolutional players."""

from tfdgm.models.adversarial.gan import GAN

__all__ = ["DCGAN"]


class DCGAN(GAN):
    """Deep convolutional GAN (Radford et al. 2016, Sec. 3).

    G projects z ~ N(0, I_100) and up-samples with stride-2 transposed
    convolutions, batch norm and ReLU; D down-samples with stride-2
    convolutions and LeakyReLU(0.2); Adam(2e-4, beta_1=0.5) for both (Sec. 4).
    The objective is the GAN's (`GAN`, Goodfellow et al. 2014, eq. 1).

    References:
      Radford, Metz & Chintala, ICLR 2016, https://arxiv.org/abs/1511.06434

    Arguments:
      event_shape: image shape (H, W, C), default (28, 28, 1).
      noise_dim: size of z (default 100).
      base_filters: filters of the first convolution of D (G mirrors it; default 64).
      loss: "non_saturating" (default) or "minimax".
      data_transform: preprocessing spec; with "dequantize,scale" (the CLI's
        default for images) G ends in a sigmoid.
    Shapes: `generate(n)` -> [n, H, W, C].
    """

    def __init__(self, event_shape=(28, 28, 1), noise_dim=100, base_filters=64, loss="non_saturating",
                 data_transform=None, name=None, **kwargs):
        super().__init__(event_shape=event_shape, noise_dim=noise_dim, loss=loss, architecture="dcgan",
                         data_transform=data_transform, name=name, **kwargs)
        self.base_filters = int(base_filters)

    def hyperparameters(self):
        return {"noise_dim": self.noise_dim, "base_filters": self.base_filters, "loss": self.loss}

    @classmethod
    def default_hyperparameters(cls, info):
        return {}
