"""The importance weighted autoencoder."""

import tensorflow as tf

from tfdgm.inference import bounds
from tfdgm.models.latent.vae import VAE

__all__ = ["IWAE"]


class IWAE(VAE):
    """A VAE trained on the k-sample bound instead of the ELBO:

        L_k(x) = E[log 1/k sum_i p(x, h_i) / q(h_i | x)],  h_i ~ q(h | x)   (Burda et al. 2016, eq. 8)

    whose gradient weights the k reparameterized samples by their normalized
    importance weights (eq. 14). k = 1 is the VAE with a Monte Carlo KL.
    Same networks, likelihoods and stacked layers as `VAE`; `nll` reports -L_k.

    References:
      Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016
      (https://arxiv.org/abs/1509.00519).

    Arguments:
      num_importance_samples: k of the training bound (5 or 50 in the paper).
      **kwargs: as `VAE` (except `beta`, `kl_warmup_steps`: L_k has no KL term).
    """

    extra_metrics = ("elbo",)

    def __init__(self, event_shape=(2,), num_importance_samples=5, **kwargs):
        if kwargs.get("beta", 1.0) != 1.0 or kwargs.get("kl_warmup_steps", 0):
            raise ValueError("IWAE trains on L_k, which has no separate KL term: expected beta=1, kl_warmup_steps=0")
        super().__init__(event_shape=event_shape, **kwargs)
        if int(num_importance_samples) < 1:
            raise ValueError(f"expected num_importance_samples >= 1, got {num_importance_samples}")
        self.num_importance_samples = int(num_importance_samples)

    def hyperparameters(self):
        config = super().hyperparameters()
        del config["beta"], config["kl_warmup_steps"]
        return {**config, "num_importance_samples": self.num_importance_samples}

    def training_bound(self, x, seed):
        log_weights = self.bound_terms(x, seed, 0, self.num_importance_samples)["log_weights"]
        return bounds.iwae_bound(log_weights), {"elbo": bounds.elbo(log_weights)}

    def train_step(self, data):
        x, _ = self.unpack(data)
        x = self.validate_input(x)
        with tf.GradientTape() as tape:
            bound, extra = self.training_bound(x, self.training_seed())
            loss = -tf.reduce_mean(bound)
        self.apply_gradients(tape, loss)
        return self._update_metrics(bound, x, **extra)
