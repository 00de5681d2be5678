"""Systems: one package each; `SYSTEMS` lists them by name (see avtfuse.models.system)."""

from avtfuse.models import avtnet, cfn_sr, mct_hfr, sa_fusion
from avtfuse.models.base import ContractClassifier, ContractModel

SYSTEMS = {system.name: system for system in (avtnet.SYSTEM, sa_fusion.SYSTEM, mct_hfr.SYSTEM, cfn_sr.SYSTEM)}

__all__ = ["SYSTEMS", "ContractClassifier", "ContractModel"]
