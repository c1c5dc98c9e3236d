"""Autoregressive models: NADE/RNADE, MADE, the masked autoregressive flows
MAF and IAF, PixelCNN, Gated PixelCNN and WaveNet."""

from tfdgm.models.autoregressive.iaf import IAF
from tfdgm.models.autoregressive.made import MADE
from tfdgm.models.autoregressive.maf import MAF
from tfdgm.models.autoregressive.nade import NADE
from tfdgm.models.autoregressive.pixelcnn import GatedPixelCNN, PixelCNN
from tfdgm.models.autoregressive.wavenet import WaveNet

__all__ = ["MADE", "MAF", "IAF", "NADE", "PixelCNN", "GatedPixelCNN", "WaveNet"]

REGISTRY = {
    "made": MADE,
    "maf": MAF,
    "iaf": IAF,
    "nade": NADE,
    "pixelcnn": PixelCNN,
    "gated_pixelcnn": GatedPixelCNN,
    "wavenet": WaveNet,
}
