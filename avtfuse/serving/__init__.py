"""Serving: raw media -> the model's inputs inside the exported graph, and portable exports."""
