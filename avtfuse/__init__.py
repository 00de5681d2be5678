"""avtfuse: multimodal person recognition robust to missing sensors."""

__version__ = "0.1.0"
