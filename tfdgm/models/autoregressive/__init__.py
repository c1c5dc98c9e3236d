"""Autoregressive models: MADE and the masked autoregressive flows MAF and IAF
(NADE, PixelCNN and WaveNet join this registry later)."""

from tfdgm.models.autoregressive.iaf import IAF
from tfdgm.models.autoregressive.made import MADE
from tfdgm.models.autoregressive.maf import MAF

__all__ = ["MADE", "MAF", "IAF"]

REGISTRY = {"made": MADE, "maf": MAF, "iaf": IAF}
