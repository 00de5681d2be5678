"""Serving: raw-input front ends of the exported model and its portable forms."""
