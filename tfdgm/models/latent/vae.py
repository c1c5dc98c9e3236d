"""The variational autoencoder, with one or several stochastic layers."""

import tensorflow as tf
import tensorflow_probability as tfp

from tfdgm.distributions.layers import (
    LIKELIHOODS,
    MultivariateNormalTriLLayer,
    NormalLayer,
    make_likelihood_layer,
)
from tfdgm.inference import bounds
from tfdgm.models.base import as_seed
from tfdgm.models.latent.base import LatentVariableModel
from tfdgm.nn.conv_nets import ConvDecoder, ConvEncoder
from tfdgm.nn.mlp import MLP

tfd = tfp.distributions

__all__ = ["VAE"]


class VAE(LatentVariableModel):
    """Variational autoencoder trained on the (beta-weighted) ELBO.

        ELBO(x) = E_q(h|x)[log p(x | h^1)] - KL(q(h | x) || p(h))      (K&W 2014, eq. 3 and 10)

    with reparameterized samples h = mu + sigma * eps. With one stochastic
    layer and a diagonal posterior, the KL to the N(0, I) prior is analytic
    (`tfd.kl_divergence`, K&W 2014 Appendix B); otherwise (stacked layers, a
    full-covariance posterior) it is the one-sample Monte Carlo estimate
    log q(h|x) - log p(h). Stacked layers follow Burda et al. 2016 Sec. 5:
    p(h^L) = N(0, I), p(h^{l-1} | h^l) and q(h^l | h^{l-1}) diagonal Gaussians
    whose MLPs have `len(hidden_units)` layers as wide as the layer below.

    The objective minimized is -(E_q log p(x|h) - w_t KL), with
    w_t = beta * min(1, t / kl_warmup_steps) (beta-VAE, Higgins et al. 2017;
    KL warm-up, Sønderby et al. 2016); the reported `nll` is always -ELBO
    (w = 1), the bound on -log p(x).

    References:
      Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014
      (https://arxiv.org/abs/1312.6114).
      Rezende, Mohamed & Wierstra, "Stochastic Backpropagation and Approximate
      Inference in Deep Generative Models", ICML 2014 (https://arxiv.org/abs/1401.4082).
      Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
      Higgins et al., "beta-VAE", ICLR 2017; Sønderby et al., "Ladder Variational
      Autoencoders", NeurIPS 2016 (warm-up).

    Arguments:
      event_shape: shape of one example, e.g. `(784,)` or `(28, 28, 1)`.
      hidden_units: widths of the MLPs between x and h^1 (encoder and decoder).
      latent_dim: size of h (int), or [d_1, ..., d_L] for L stochastic layers.
      likelihood: p(x | h^1): "bernoulli" (binary data, default), "gaussian"
        (learned per-example scale), "gaussian_shared_scale", "gaussian_fixed"
        (unit scale), "mvn_tril" (full covariance, flat data),
        "logistic_mixture" or "categorical256" (integer levels 0..255:
        preprocess `none`). See `tfdgm.distributions.layers`.
      likelihood_options: keyword arguments of the likelihood layer, e.g.
        `{"num_levels": 17, "num_components": 3}` for "logistic_mixture".
      posterior: q(h^1 | x): "diagonal" (default), "full"
        (`MultivariateNormalTriL`), "planar" (a diagonal Normal through
        `num_flows` amortized planar flows, Rezende & Mohamed 2015) or "iaf"
        (a diagonal Normal through `num_flows` inverse autoregressive flow
        steps conditioned on a context from the encoder, Kingma et al. 2016;
        `tfdgm.distributions.flow_posterior.IAFPosteriorLayer`); all but
        "diagonal" estimate the KL by Monte Carlo.
      num_flows: planar flows or IAF steps of a flow posterior.
      flow_hidden_units: widths of each IAF step's masked network (None:
        [max(16, 2 latent_dim)]).
      architecture: "mlp" or "conv" (images with H, W divisible by 4).
      activation: activation of the MLPs ("tanh" as in Burda et al.; conv nets use relu).
      beta: weight of the KL term (1 = the ELBO).
      kl_warmup_steps: steps over which the KL weight rises linearly from 0 to beta.
      analytic_kl: use the closed-form KL where TFP has it.
      data_transform: preprocessing spec (see `GenerativeModel`).

    Example:
      >>> model = VAE(event_shape=(2,), likelihood="gaussian")
      >>> model.compile()
      >>> model.fit(np.random.normal(size=(256, 2)).astype("float32"), epochs=1, verbose=0)
      >>> model.log_prob(np.zeros((1, 2), "float32"), num_samples=100).shape
      TensorShape([1])
    """

    extra_metrics = ("elbo", "kl", "reconstruction")

    def __init__(
        self,
        event_shape=(2,),
        hidden_units=(256, 256),
        latent_dim=16,
        likelihood="bernoulli",
        likelihood_options=None,
        posterior="diagonal",
        num_flows=4,
        flow_hidden_units=None,
        architecture="mlp",
        activation="tanh",
        beta=1.0,
        kl_warmup_steps=0,
        analytic_kl=True,
        data_transform=None,
        name=None,
        **kwargs,
    ):
        super().__init__(event_shape=event_shape, latent_dim=latent_dim, data_transform=data_transform, name=name, **kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; expected one of: {', '.join(LIKELIHOODS)}")
        if posterior not in ("diagonal", "full", "planar", "iaf"):
            raise ValueError(f'expected posterior "diagonal", "full", "planar" or "iaf", got {posterior!r}')
        if architecture not in ("mlp", "conv"):
            raise ValueError(f'expected architecture "mlp" or "conv", got {architecture!r}')
        if beta < 0 or kl_warmup_steps < 0:
            raise ValueError(f"expected beta >= 0 and kl_warmup_steps >= 0, got {beta} and {kl_warmup_steps}")
        self.hidden_units = [int(u) for u in hidden_units]
        self.likelihood = likelihood
        self.likelihood_options = dict(likelihood_options or {})
        self.posterior = posterior
        self.num_flows = int(num_flows)
        self.flow_hidden_units = None if flow_hidden_units is None else [int(u) for u in flow_hidden_units]
        self.architecture = architecture
        self.activation = activation
        self.beta = float(beta)
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.analytic_kl = bool(analytic_kl)
        self._make_layers()

    def _make_layers(self):
        dims = self.latent_dims
        if self.architecture == "conv":
            encoder = ConvEncoder(self.event_shape, name="encoder_trunk")
            decoder = ConvDecoder(self.event_shape, name="decoder_trunk")
        else:
            encoder = MLP(self.hidden_units, self.activation, name="encoder_trunk")
            decoder = MLP(self.hidden_units[::-1], self.activation, name="decoder_trunk")
        self.inference_nets = [encoder]
        self.generative_nets = [decoder]
        if self.posterior == "planar":
            from tfdgm.distributions.flow_posterior import PlanarFlowPosteriorLayer

            first_posterior = PlanarFlowPosteriorLayer((dims[0],), num_flows=self.num_flows, name="q_h1")
        elif self.posterior == "iaf":
            from tfdgm.distributions.flow_posterior import IAFPosteriorLayer

            first_posterior = IAFPosteriorLayer(
                (dims[0],), num_flows=self.num_flows, hidden_units=self.flow_hidden_units, name="q_h1"
            )
        elif self.posterior == "full":
            first_posterior = MultivariateNormalTriLLayer((dims[0],), name="q_h1")
        else:
            first_posterior = NormalLayer((dims[0],), name="q_h1")
        self.posterior_layers = [first_posterior]
        self.generative_layers = [make_likelihood_layer(
            self.likelihood, self.event_shape, name="p_x", **self.likelihood_options
        )]
        depth = max(1, len(self.hidden_units))
        for level in range(1, len(dims)):
            below = dims[level - 1]
            self.inference_nets.append(MLP([below] * depth, self.activation, name=f"encoder_trunk_{level + 1}"))
            self.posterior_layers.append(NormalLayer((dims[level],), name=f"q_h{level + 1}"))
            self.generative_nets.append(MLP([below] * depth, self.activation, name=f"decoder_trunk_{level + 1}"))
            self.generative_layers.append(NormalLayer((below,), name=f"p_h{level}"))

    def build(self, input_shape=None):
        dims = self.latent_dims
        input_features = (None, *self.event_shape) if self.architecture == "conv" else (None, self.num_dims)
        for level, (net, layer) in enumerate(zip(self.inference_nets, self.posterior_layers)):
            shape = input_features if level == 0 else (None, dims[level - 1])
            net.build(shape)
            layer.build(net.compute_output_shape(shape))
        for level, (net, layer) in enumerate(zip(self.generative_nets, self.generative_layers)):
            net.build((None, dims[level]))
            layer.build(net.compute_output_shape((None, dims[level])))
        self.built = True

    @classmethod
    def data_kind_for(cls, params):
        """The data kind a likelihood models: "binary", "continuous" or "levels"
        (integer levels, preprocessing `none`); `data_kind` is the default's."""
        likelihood = (params or {}).get("likelihood", "bernoulli")
        return LIKELIHOODS[likelihood][2] if likelihood in LIKELIHOODS else cls.data_kind

    @classmethod
    def default_hyperparameters(cls, info):
        if info.event_shape is not None and int(tf.reduce_prod(info.event_shape)) >= 256:
            return {"hidden_units": [200, 200], "latent_dim": 50}  # Burda et al. 2016, Sec. 5
        return {}

    def hyperparameters(self):
        return {
            "hidden_units": list(self.hidden_units),
            "latent_dim": self.latent_dim,
            "likelihood": self.likelihood,
            "likelihood_options": dict(self.likelihood_options),
            "posterior": self.posterior,
            "num_flows": self.num_flows,
            "flow_hidden_units": self.flow_hidden_units,
            "architecture": self.architecture,
            "activation": self.activation,
            "beta": self.beta,
            "kl_warmup_steps": self.kl_warmup_steps,
            "analytic_kl": self.analytic_kl,
        }

    def prior(self):
        """p(h^L) = N(0, I)."""
        dim = self.latent_dims[-1]
        return tfd.Independent(tfd.Normal(tf.zeros([dim]), tf.ones([dim])), reinterpreted_batch_ndims=1)

    @property
    def uses_analytic_kl(self):
        return self.analytic_kl and self.num_stochastic_layers == 1 and self.posterior == "diagonal"

    def elbo_terms(self, x, seed, num_samples=1):
        """(ELBO, reconstruction E_q log p(x|h), KL) per example, [batch] each."""
        terms = self.bound_terms(x, seed, 0, num_samples)
        reconstruction = tf.reduce_mean(terms["log_likelihood"], 0)
        if self.uses_analytic_kl:
            kl = tfd.kl_divergence(terms["q1"], self.prior())
        else:
            kl = tf.reduce_mean(terms["log_posterior"] - terms["log_prior"], 0)
        return reconstruction - kl, reconstruction, kl

    def elbo(self, x, num_samples=1, seed=None):
        """ELBO with the analytic KL where available (K&W 2014, eq. 10). -> [batch]."""
        self._ensure_built()
        elbo, _, _ = self.elbo_terms(self.validate_input(x), as_seed(seed), num_samples)
        return elbo

    def training_bound(self, x, seed):
        elbo, reconstruction, kl = self.elbo_terms(x, seed)
        return elbo, {"elbo": elbo, "kl": kl, "reconstruction": reconstruction}

    def train_step(self, data):
        x, _ = self.unpack(data)
        x = self.validate_input(x)
        weight = bounds.kl_weight(self.optimizer.iterations, self.beta, self.kl_warmup_steps)
        with tf.GradientTape() as tape:
            elbo, reconstruction, kl = self.elbo_terms(x, self.training_seed())
            loss = -tf.reduce_mean(reconstruction - weight * kl)
        self.apply_gradients(tape, loss)
        return self._update_metrics(elbo, x, elbo=elbo, kl=kl, reconstruction=reconstruction)
