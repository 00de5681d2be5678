"""SA-fusion (Chumachenko, Iosifidis, Gabbouj, ICPR 2022): self-attention fusion of audio and video
(LT, IT, IA variants), trained end to end with modality dropout (SYSTEMS.md section 2)."""

from avtfuse.models.sa_fusion.config import SAFusionConfig
from avtfuse.models.sa_fusion.presets import SYSTEM, VARIANTS, build_linear_head
from avtfuse.models.sa_fusion.sa_fusion_net import SAFusionNet

__all__ = ["SAFusionConfig", "SAFusionNet", "SYSTEM", "VARIANTS",
           "build_linear_head"]
