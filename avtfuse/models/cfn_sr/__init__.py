"""CFN-SR (Fu et al., ICASSP 2022): a cross-modal fusion network with self-attention and residual structure,
audio guiding spatial attention over each video map, trained in two stages (SYSTEMS.md section 4)."""

from avtfuse.models.cfn_sr.cfn_sr_net import CFNSRNet
from avtfuse.models.cfn_sr.config import CFNSRConfig
from avtfuse.models.cfn_sr.presets import SYSTEM, VARIANTS, build_linear_head

__all__ = ["CFNSRConfig", "CFNSRNet", "SYSTEM", "VARIANTS", "build_linear_head"]
