"""Models: AVTNet and its phase-2 recogniser."""

from avtfuse.models.avtnet import AVTNet, AVTNetConfig
from avtfuse.models.recognizer import build_recognizer

__all__ = ["AVTNet", "AVTNetConfig", "build_recognizer"]
