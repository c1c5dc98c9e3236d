"""One small configuration per registered model, shared by the test contract
(tests/test_model_contract.py) and the `.keras` round trip
(tests/models/test_keras_saving.py): a new model gets both by adding its
entry to `SMALL`. Both modules share one trained model per name
(`trained`) and run on one xdist worker (their `xdist_group`), so each
small model is built and fitted once per test run.

Each data factory draws from its own `default_rng(0)`: the same 16 examples
on every call, in any test order.
"""

import numpy as np

from tfdgm import models

__all__ = ["SMALL", "binary", "normal", "levels", "uniform", "split_data", "fit_small", "trained"]


def binary(*shape):
    """16 binary examples of `shape`, P(1) = 0.4. -> float32 [16, *shape]"""
    return (np.random.default_rng(0).uniform(size=(16, *shape)) < 0.4).astype(np.float32)


def normal(*shape):
    """16 standard normal examples of `shape`. -> float32 [16, *shape]"""
    return np.random.default_rng(0).normal(size=(16, *shape)).astype(np.float32)


def uniform(*shape):
    """16 examples uniform on [0, 1) of `shape`. -> float32 [16, *shape]"""
    return np.random.default_rng(0).uniform(size=(16, *shape)).astype(np.float32)


def levels(num_levels, *shape):
    """16 examples of integer levels in [0, num_levels). -> float32 [16, *shape]"""
    return np.random.default_rng(0).integers(0, num_levels, size=(16, *shape)).astype(np.float32)


# One small configuration per registered model: (factory, training data).
# Options are picked to carry non-trainable state where the model has it
# (PCD chains, sparsity estimates, batch norm, ActNorm, a data transform).
SMALL = {
    "cgan": (lambda: models.ConditionalGAN(event_shape=(2,), num_classes=3, hidden_units=(8,)),
             lambda: (normal(2), np.arange(16) % 3)),
    "conv_dbn": (lambda: models.ConvDBN(image_shape=(8, 8, 1), num_filters=(2, 2), filter_size=(3, 2),
                                        pool_size=(2, 2), sampling_steps=2),
                 lambda: binary(8, 8, 1)),
    "conv_rbm": (lambda: models.ConvRBM(image_shape=(4, 4, 1), num_filters=2, filter_size=3, sampling_steps=2),
                 lambda: binary(4, 4, 1)),
    "cyclegan": (lambda: models.CycleGAN(event_shape=(4,), hidden_units=(8,)), lambda: normal(4)),
    "dbm": (lambda: models.DBM(event_shape=(6,), num_hidden=(4, 3), persistent=True, num_chains=4,
                               sampling_steps=2, mean_field_steps=2),
            lambda: binary(6)),
    "dbn": (lambda: models.DBN(event_shape=(6,), num_hidden=(4, 3), persistent=True, num_chains=4,
                               sampling_steps=2),
            lambda: binary(6)),
    "dcgan": (lambda: models.DCGAN(event_shape=(8, 8, 1), noise_dim=4, base_filters=2,
                                   data_transform="scale:0:1:0:1"),
              lambda: uniform(8, 8, 1)),
    "gan": (lambda: models.GAN(event_shape=(2,), hidden_units=(8,)), lambda: normal(2)),
    "gated_pixelcnn": (lambda: models.GatedPixelCNN(event_shape=(3, 3, 1), num_filters=4, num_layers=1,
                                                    first_kernel_size=3, num_levels=4),
                       lambda: levels(4, 3, 3, 1)),
    # Two levels: the squeeze, split prior and factor-out of both go through the contract's XLA step.
    "glow": (lambda: models.Glow(event_shape=(4, 4, 2), num_levels=2, num_steps=1, hidden_channels=4),
             lambda: normal(4, 4, 2)),
    "grbm": (lambda: models.GaussianBernoulliRBM(event_shape=(2,), num_hidden=3, sampling_steps=2),
             lambda: normal(2)),
    "helmholtz": (lambda: models.HelmholtzMachine(event_shape=(6,), latent_dim=(3,)), lambda: binary(6)),
    "iaf": (lambda: models.IAF(event_shape=(3,), num_layers=2, hidden_units=(8,), batch_norm=True),
            lambda: normal(3)),
    "independent_bernoulli": (lambda: models.IndependentBernoulli(event_shape=(4,)), lambda: binary(4)),
    "independent_gaussian": (lambda: models.IndependentGaussian(event_shape=(3,), data_transform="scale:0:1:-4:4"),
                             lambda: normal(3)),
    "independent_logistic": (lambda: models.IndependentLogistic(event_shape=(2,)), lambda: normal(2)),
    "iwae": (lambda: models.IWAE(event_shape=(6,), hidden_units=(8,), latent_dim=2, num_importance_samples=2),
             lambda: binary(6)),
    "made": (lambda: models.MADE(event_shape=(6,), hidden_units=(8,), num_masks=2,
                                          order_agnostic=True), lambda: binary(6)),
    "maf": (lambda: models.MAF(event_shape=(3,), num_layers=2, hidden_units=(8,), batch_norm=True),
            lambda: normal(3)),
    "nade": (lambda: models.NADE(event_shape=(6,), hidden_units=8), lambda: binary(6)),
    "nice": (lambda: models.NICE(event_shape=(4,), num_layers=2, hidden_units=(8,)), lambda: normal(4)),
    "pixelcnn": (lambda: models.PixelCNN(event_shape=(3, 3, 1), num_filters=4, num_layers=1, first_kernel_size=3),
                 lambda: binary(3, 3, 1)),
    "planar": (lambda: models.PlanarFlow(event_shape=(2,), num_layers=2), lambda: normal(2)),
    "pointcloud_gan": (lambda: models.PointCloudGAN(event_shape=(8, 2), hidden_units=(8,), phi_units=(8,),
                                                    rho_units=(8,), n_critic=1),
                       lambda: normal(8, 2)),
    "rbm": (lambda: models.BernoulliRBM(event_shape=(6,), num_hidden=4, persistent=True, num_chains=4,
                                        sparsity_target=0.1, sampling_steps=2),
            lambda: binary(6)),
    "realnvp": (lambda: models.RealNVP(event_shape=(4, 4, 2), num_levels=1, hidden_channels=4, num_blocks=1),
                lambda: normal(4, 4, 2)),
    "rsm": (lambda: models.ReplicatedSoftmaxRBM(event_shape=(5,), num_hidden=3, max_length=12, sampling_steps=2),
            lambda: levels(3, 5)),
    "vae": (lambda: models.VAE(event_shape=(6,), hidden_units=(8,), latent_dim=2, kl_warmup_steps=10),
            lambda: binary(6)),
    "wavenet": (lambda: models.WaveNet(event_shape=(6,), num_levels=4, residual_channels=4, skip_channels=4,
                                       num_blocks=1, num_layers=2),
                lambda: levels(4, 6)),
    "wgan": (lambda: models.WGAN(event_shape=(2,), hidden_units=(8,), n_critic=2), lambda: normal(2)),
    "wgan_gp": (lambda: models.WGANGP(event_shape=(2,), hidden_units=(8,), n_critic=2), lambda: normal(2)),
}


def split_data(data):
    """`(x, labels or None)` of a `SMALL` data factory's result."""
    return data if isinstance(data, tuple) else (data, None)


def fit_small(model, data, steps, **options):
    """`model.fit` on the first `8 * steps` examples in batches of 8. -> History"""
    x, labels = split_data(data)
    if labels is not None:
        return model.fit(x[: 8 * steps], labels[: 8 * steps], batch_size=8, verbose=0, **options)
    return model.fit(x[: 8 * steps], batch_size=8, verbose=0, **options)


_TRAINED = {}


def trained(name):
    """(model, x, labels, history): `SMALL[name]` compiled with `compile()`'s
    defaults and after one `fit` step, built once per process."""
    if name not in _TRAINED:
        make, make_data = SMALL[name]
        x, labels = split_data(make_data())
        model = make()
        model.compile()
        history = fit_small(model, (x, labels) if labels is not None else x, steps=1)
        _TRAINED[name] = (model, x, labels, history)
    return _TRAINED[name]
