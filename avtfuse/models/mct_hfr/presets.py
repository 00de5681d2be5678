"""MCT-HFR's presets (config factories), its variants (complete vs dynamic incomplete training) and its head."""

import keras

from avtfuse.config import scaled_width
from avtfuse.distribute import batch_normalization
from avtfuse.layers.checks import positive_int
from avtfuse.models.mct_hfr.config import MCTHFRConfig
from avtfuse.models.mct_hfr.mct_hfr_net import MCTHFRNet
from avtfuse.models.system import Preset, System, Variant, sequence_input_fields

RECIPE = "hybrid_reconstruction"
MISSING_RATES = tuple(round(0.1 * step, 1) for step in range(10))  # the paper's test rates 0.0 ... 0.9
STEP_DROPOUT = 0.2  # p_miss of dynamic incomplete training (paper 4.4.2)


def _features(seconds, frames, image_size):
    """Log-mel, 80 bands, 25 ms window, 20 ms hop (50 Hz) at 16 kHz over `seconds`; `frames` frames at 5 frames/s."""
    return {"sample_rate": 16000, "audio_samples": int(16000 * seconds), "audio_crop": "center",
            "audio_features": "log_mel", "n_mels": 80, "n_fft": 400, "hop_length": 320, "frames": frames,
            "frame_seconds": float(seconds), "frame_crop": "center", "image_size": image_size}


def _train(epochs, learning_rate):
    """The code's AdamW (weight decay 0.01, PyTorch's default), batch 32, gradient values clipped at 0.8, early
    stopping on validation UA after 8 epochs without gain, auxiliary losses from epoch 2."""
    return {"epochs_embed": epochs, "batch_size": 32, "optimizer": "adamw", "learning_rate": learning_rate,
            "beta_1": 0.9, "beta_2": 0.999, "weight_decay": 0.01, "clip_value": 0.8, "early_stopping": 8,
            "aux_start_epoch": 2}


def _data():
    return {"synthetic": "ravdess", "label": "emotion", "protocol": "folds", "ablation": "complete",
            "synthetic_subjects": 6, "missing_rates": MISSING_RATES}


def small():
    """CPU-sized: the synthetic RAVDESS's 3 s (151 log-mel frames, 15 frames of 32 x 32 per camera) into the small
    frame encoder (16 filters, 64 units), d = 64, 2 layers; 30 epochs at a learning rate of 1e-3 (1e-4 leaves
    the 240 training clips of a fold unlearnt in that many steps)."""
    return Preset(features=_features(3.0, 15, (32, 32)), train=_train(30, 1e-3), data=_data(),
                  model={"units": 64, "layers": 2, "frame_filters": 16, "frame_units": 64, "cgate_units": 32})


def paper():
    """The paper's model and schedule (d = 128, 4 layers, 40 epochs, lr 1e-4) on 8 s windows: 400 log-mel frames
    (50 Hz) and 40 frames per camera (5 frames/s) of 96 x 96 into MobileNetV3Small (the stand-in for the
    paper's frozen VGGFace2 ResNet-50, here trained from scratch)."""
    return Preset(features=_features(8.0, 40, (96, 96)), train=_train(40, 1e-4), data=_data(),
                  model={"frame_encoder": "mobilenet"})


VARIANTS = {
    "mct_hfr": Variant(MCTHFRNet, RECIPE, {}, "MCT-HFR*: LFI + GFA, dynamic incomplete training with the paper's "
                                              "5-epoch ramp", train={"step_dropout": STEP_DROPOUT, "ramp_epochs": 5}),
    "mct_hfr_code": Variant(MCTHFRNet, RECIPE, {}, "MCT-HFR* as the public code trains it: every sample incomplete "
                                                   "from the first step (no ramp)",
                            train={"step_dropout": STEP_DROPOUT, "ramp_epochs": 0}),
    "mct": Variant(MCTHFRNet, RECIPE, {"lfi": False, "gfa": False}, "MCT: no reconstruction, complete training data",
                   train={"step_dropout": 0.0, "ramp_epochs": 0}),
}



def build_head(feature_dim, num_classes, hidden_units=128, dropout=0.1, name="mct_head", width_multiplier=1.0):
    """The code's classifier on the pooled features: BatchNorm -> Dense(hidden, LeakyReLU) -> Dropout -> Dense(C)
    with a float32 softmax (hidden times `width_multiplier`): float [B, feature_dim] -> float32 [B, num_classes]
    probabilities."""
    hidden_units = scaled_width(positive_int(hidden_units, "build_head hidden_units"), width_multiplier)
    feature_dim = positive_int(feature_dim, "build_head feature_dim")
    num_classes = positive_int(num_classes, "build_head num_classes")
    if num_classes < 2:
        raise ValueError(f"build_head num_classes: expected >= 2 classes, got {num_classes}")
    inputs = keras.Input(shape=(feature_dim,), name="features")
    hidden = batch_normalization(name="batch_norm")(inputs)
    hidden = keras.layers.Dense(hidden_units, name="dense")(hidden)
    hidden = keras.layers.LeakyReLU(negative_slope=0.01, name="leaky_relu")(hidden)
    hidden = keras.layers.Dropout(dropout, name="dropout")(hidden)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(hidden)
    return keras.Model(inputs, outputs, name=name)


SYSTEM = System("mct_hfr", MCTHFRConfig, VARIANTS, {"small": small, "paper": paper}, sequence_input_fields, build_head)
