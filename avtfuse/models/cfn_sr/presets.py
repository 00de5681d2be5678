"""CFN-SR's presets (config factories), the paper's ablations (its Table 2) as variants, and its linear head."""

from avtfuse.models.cfn_sr.cfn_sr_net import CFNSRNet
from avtfuse.models.cfn_sr.config import CFNSRConfig
from avtfuse.models.heads import build_linear_head
from avtfuse.models.system import Preset, System, Variant, sequence_input_fields

RECIPE = "pretrain_then_fuse"
SAMPLE_RATE = 44100
AUDIO_OFFSET = 0.5  # seconds dropped at the start ("the first 0.5 seconds usually do not contain sound")
AUDIO_SECONDS = 2.45
# Frames are spread over the whole clip (the code's t_k = k * duration / 30): a window longer than any clip.
WHOLE_CLIP_SECONDS = 3600.0


def _features(frames, image_size):
    """The paper's inputs (SYSTEMS.md 4.1): 2.45 s from 0.5 s at 44.1 kHz as 13 MFCCs (librosa's defaults,
    n_fft 2048, hop 512) -> [212, 13]; `frames` frames spread over the whole clip, centre square (the stand-in for
    the landmark face crop), resized to `image_size`."""
    return {"sample_rate": SAMPLE_RATE, "audio_samples": round(AUDIO_SECONDS * SAMPLE_RATE), "audio_crop": "start",
            "audio_offset": AUDIO_OFFSET, "audio_features": "mfcc", "n_mels": 128, "n_mfcc": 13, "n_fft": 2048,
            "hop_length": 512, "frames": frames, "frame_seconds": WHOLE_CLIP_SECONDS, "frame_crop": "center",
            "image_size": image_size}


def _train(pretrain_epochs, fusion_epochs):
    """Adam(1e-3) (PyTorch's betas), batch 16 (SYSTEMS.md 4.3): `pretrain_epochs` per unimodal net
    (epochs_embed), `fusion_epochs` for CFN-SR (epochs_recognizer); the best epoch of each kept, never stopped
    early (the patience is the whole phase)."""
    return {"epochs_embed": pretrain_epochs, "epochs_recognizer": fusion_epochs, "batch_size": 16,
            "optimizer": "adam", "learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999,
            "early_stopping": max(pretrain_epochs, fusion_epochs)}


def _data():
    return {"synthetic": "ravdess", "label": "emotion", "protocol": "folds", "ablation": "complete",
            "synthetic_subjects": 6}


def small():
    """CPU-sized: 16 frames of 32 x 32 into the 3-D encoder (-> a [2, 2, 2, 256] map), the paper's audio side and
    block; 8 pre-training epochs per modality, 12 fusion epochs. The encoder keeps the paper preset's widths:
    on the 2-core CPU a training step ran at about 37 samples/s with widths 32 ... 256 and 2-10 samples/s with
    narrower ones (16 ... 128, 24 ... 192: oneDNN's 3-D convolution leaves its fast path)."""
    return Preset(features=_features(16, (32, 32)), train=_train(8, 12), data=_data())


def paper():
    """The paper's shapes and schedule: 16 frames of 112 x 112 (the paper: 30 of 224 x 224 into the 3-D ResNeXt-50)
    into the 3-D encoder (32 ... 256 -> [2, 7, 7, 256]); 70 fusion epochs (the code's). The paper does not give
    the unimodal pre-training schedule (MSAF's checkpoints): 70 epochs each here too."""
    return Preset(features=_features(16, (112, 112)), train=_train(70, 70), data=_data())


# Modality dropout of the fusion phase (--dropout), as build_experiment changes: none (the paper) or softhard (ours).
DROPOUTS = {"none": {"train": {"replication": "none"}}, "softhard": {"train": {"replication": "softhard"}}}
# The data under the paper's epoch selection (selection "paper": the best test epoch): no validation actors (under
# the folds protocol the validation block trains).
PAPER_SELECTION_DATA = {"validation_fraction": 0.0}

VARIANTS = {
    "cfn_sr": Variant(CFNSRNet, RECIPE, {}, "CFN-SR: the audio transformer's last step guides attention, with "
                                            "residual, over each video map (the paper's 75.76)"),
    "no_cross_modal": Variant(CFNSRNet, RECIPE, {"cross_modal": False},
                              "w/o cross-modal blocks: pooled video and audio features concatenated (73.50)"),
    "no_self_attention": Variant(CFNSRNet, RECIPE, {"self_attention": False},
                                 "w/o self-attention: the guide is Dense(d) of the audio features' time-mean (73.86)"),
    "no_residual": Variant(CFNSRNet, RECIPE, {"residual": False},
                           "w/o residual: the block returns x * alpha (75.33)"),
}




SYSTEM = System("cfn_sr", CFNSRConfig, VARIANTS, {"small": small, "paper": paper}, sequence_input_fields,
                build_linear_head)
