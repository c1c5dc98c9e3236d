"""Adversarial models: GAN, DCGAN, WGAN, WGAN-GP, conditional GAN, CycleGAN, point-cloud GAN."""

from tfdgm.models.adversarial.base import AdversarialModel
from tfdgm.models.adversarial.conditional_gan import ConditionalGAN
from tfdgm.models.adversarial.cyclegan import CycleGAN
from tfdgm.models.adversarial.dcgan import DCGAN
from tfdgm.models.adversarial.gan import GAN
from tfdgm.models.adversarial.pointcloud_gan import PointCloudGAN
from tfdgm.models.adversarial.wgan import WGAN
from tfdgm.models.adversarial.wgan_gp import WGANGP

__all__ = ["AdversarialModel", "GAN", "DCGAN", "WGAN", "WGANGP", "ConditionalGAN", "CycleGAN", "PointCloudGAN"]

REGISTRY = {
    "gan": GAN,
    "dcgan": DCGAN,
    "wgan": WGAN,
    "wgan_gp": WGANGP,
    "cgan": ConditionalGAN,
    "cyclegan": CycleGAN,
    "pointcloud_gan": PointCloudGAN,
}
