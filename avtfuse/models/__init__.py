"""Models: AVTNet, its phase-2 recogniser, and the E2E baseline."""

from avtfuse.models.avtnet import AVTNet, AVTNetConfig
from avtfuse.models.e2e import BranchFeatures, E2EClassifier, build_e2e
from avtfuse.models.recognizer import build_recognizer

__all__ = ["AVTNet", "AVTNetConfig", "BranchFeatures", "E2EClassifier", "build_e2e", "build_recognizer"]
