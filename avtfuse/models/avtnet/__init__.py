"""AVTNet (John and Kawanishi, MMAsia 2022), its recogniser, and the paper's baselines."""

from avtfuse.models.avtnet.avtnet import AVTNet
from avtfuse.models.avtnet.config import AVTNetConfig
from avtfuse.models.avtnet.e2e import BranchFeatures
from avtfuse.models.avtnet.presets import SYSTEM, VARIANTS
from avtfuse.models.avtnet.recognizer import build_recognizer

__all__ = ["AVTNet", "AVTNetConfig", "BranchFeatures", "SYSTEM", "VARIANTS", "build_recognizer"]
