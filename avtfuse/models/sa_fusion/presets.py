"""SA-fusion's presets (config factories), the paper's six fusion variants (its Table II) and its linear head."""

from avtfuse.models.heads import build_linear_head
from avtfuse.models.sa_fusion.config import SAFusionConfig
from avtfuse.models.sa_fusion.sa_fusion_net import SAFusionNet
from avtfuse.models.system import Preset, System, Variant, sequence_input_fields

END_TO_END = "end_to_end"


def _features(image_size):
    """RAVDESS inputs (SYSTEMS.md 2.1): 3.6 s at 22,050 Hz as [156, 10] MFCCs, 15 centre frames."""
    return {"sample_rate": 22050, "audio_samples": 79380, "audio_crop": "center", "audio_features": "mfcc",
            "n_mels": 128, "n_mfcc": 10, "frames": 15, "frame_seconds": 3.6, "frame_crop": "center",
            "image_size": image_size}


def _train(epochs, lr_step_epochs):
    """The reference code's SGD (lr 0.04, momentum 0.9, dampening 0.9, coupled L2 1e-3, batch 8) and step schedule."""
    return {"epochs_embed": epochs, "batch_size": 8, "optimizer": "sgd", "learning_rate": 0.04, "momentum": 0.9,
            "dampening": 0.9, "l2": 1e-3, "lr_step_epochs": lr_step_epochs, "lr_step_factor": 0.1,
            "early_stopping": epochs}


def _data():
    return {"synthetic": "ravdess", "label": "emotion", "protocol": "folds", "ablation": "complete",
            "synthetic_subjects": 6}


def small():
    """CPU-sized: 15 frames of 32 x 32 into the small frame encoder (16 filters), 10 epochs, the learning rate cut
    at epochs 8 and 9 only: the paper's cuts at 40, 55, 65, 70 of 100 epochs, scaled, would leave a 10-epoch run
    of the synthetic set 90 updates at the full rate. On a 2-core CPU an A+V softhard epoch of the synthetic
    set (960 samples) takes about 10 s at 32 x 32; 48 x 48 frames run half as fast, too slow for the 18-run
    table in 40 minutes."""
    return Preset(features=_features((32, 32)), train=_train(10, (8, 9)), data=_data(),
                  model={"frame_encoder": "small", "frame_filters": 16})


def paper():
    """The paper's schedule: 100 epochs, steps at 40, 55, 65, 70; 15 frames of 112 x 112 into MobileNetV3Small
    (the stand-in for the unavailable pre-trained EfficientFace)."""
    return Preset(features=_features((112, 112)), train=_train(100, (40, 55, 65, 70)), data=_data(),
                          model={"frame_encoder": "mobilenet"})


# The paper's modality-dropout settings (--dropout), as build_experiment changes: how training replicates each batch
# (TrainConfig.replication) and what a missing modality holds in evaluation (DataConfig.missing_fill).
DROPOUTS = {"none": {"train": {"replication": "none"}, "data": {"missing_fill": "zeros"}},
            "softhard": {"train": {"replication": "softhard"}, "data": {"missing_fill": "zeros"}},
            "noise": {"train": {"replication": "noise"}, "data": {"missing_fill": "noise"}}}

VARIANTS = {
    "ia1": Variant(SAFusionNet, END_TO_END, {"fusion": "ia", "heads": 1},
                   "intermediate attention, 1 head (the paper's best, with softhard modality dropout)"),
    "ia4": Variant(SAFusionNet, END_TO_END, {"fusion": "ia", "heads": 4}, "intermediate attention, 4 heads"),
    "it1": Variant(SAFusionNet, END_TO_END, {"fusion": "it", "heads": 1}, "intermediate transformer, 1 head"),
    "it4": Variant(SAFusionNet, END_TO_END, {"fusion": "it", "heads": 4}, "intermediate transformer, 4 heads"),
    "lt1": Variant(SAFusionNet, END_TO_END, {"fusion": "lt", "heads": 1}, "late transformer, 1 head"),
    "lt4": Variant(SAFusionNet, END_TO_END, {"fusion": "lt", "heads": 4}, "late transformer, 4 heads"),
}




SYSTEM = System("sa_fusion", SAFusionConfig, VARIANTS, {"small": small, "paper": paper}, sequence_input_fields,
                build_linear_head)
