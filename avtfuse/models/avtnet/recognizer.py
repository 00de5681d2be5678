"""AVTNet's recogniser (phase 2, and the E2E head): an MLP classifier on the concatenated embeddings."""

from avtfuse.models.heads import build_classifier


def build_recognizer(input_dim, num_people, hidden_units=(512, 256), name="recognizer", width_multiplier=1.0):
    """AVTNet's recogniser: `avtfuse.models.heads.build_classifier` with hidden layers of 512 and 256 (Dense +
    BatchNormalization + ReLU; times `width_multiplier`) on the concatenated embeddings (4 x 256 = 1024 inputs):
    float [B, input_dim] -> float32 [B, num_people] probabilities."""
    return build_classifier(input_dim, num_people, hidden_units, name, what="build_recognizer", classes="num_people",
                            width_multiplier=width_multiplier)
