"""MCT-HFR (Chen and Zhang): the modality-collaborative transformer with hybrid feature reconstruction, robust to
missing steps inside each modality (SYSTEMS.md section 3)."""

from avtfuse.models.mct_hfr.classifier import HybridReconstructionClassifier
from avtfuse.models.mct_hfr.config import MCTHFRConfig
from avtfuse.models.mct_hfr.mct_hfr_net import MCTHFRNet
from avtfuse.models.mct_hfr.presets import MISSING_RATES, SYSTEM, VARIANTS, build_head

__all__ = ["HybridReconstructionClassifier", "MCTHFRConfig", "MCTHFRNet", "MISSING_RATES", "SYSTEM", "VARIANTS",
           "build_head"]
