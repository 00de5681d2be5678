"""AVTNet's presets (config factories) and the seed paper's variants (its Table 1)."""

from avtfuse.models.avtnet.avtnet import AVTNet
from avtfuse.models.avtnet.config import AVTNetConfig
from avtfuse.models.avtnet.e2e import BranchFeatures
from avtfuse.models.avtnet.recognizer import build_recognizer
from avtfuse.models.system import Preset, System, Variant

TWO_PHASE = "embed_then_recognize"
END_TO_END = "end_to_end"


def small():
    """CPU-sized: 48 x 48 frames, 1.5 s of audio as 130 x 64 log-mels, 40 + 30 epochs."""
    return Preset(features={"audio_samples": 66150, "n_mels": 64, "image_size": (48, 48)},
                  train={"epochs_embed": 40, "epochs_recognizer": 30})


def paper():
    """The seed paper: 224 x 224 frames, 589 x 128 log-mels (301,056 samples at 44.1 kHz), 50 + 25 epochs."""
    return Preset(features={"audio_samples": 301056, "n_mels": 128, "image_size": (224, 224)},
                  train={"epochs_embed": 50, "epochs_recognizer": 25})


VARIANTS = {
    "prop": Variant(AVTNet, TWO_PHASE, {}, "AVTNet as in the paper"),
    "prop-1": Variant(AVTNet, TWO_PHASE, {"joint": "dense"},
                      "joint embedding from three dense layers instead of the transformer"),
    "prop-2": Variant(AVTNet, TWO_PHASE, {"modality_loss": "batch_hard"},
                      "every embedding trained with the batch-hard triplet loss (no missing-modality loss)"),
    "prop-3": Variant(AVTNet, TWO_PHASE, {"recognizer_embeddings": "joint"},
                      "only the joint embedding feeds the recogniser"),
    "e2e": Variant(BranchFeatures, END_TO_END, {},
                   "feature branches concatenated into the recognition head, cross-entropy, one phase"),
    "jer-1": Variant(AVTNet, TWO_PHASE, {"joint": "dense", "individual_embeddings": False},
                     "one joint embedding (three dense layers), batch-hard triplet loss, then the recogniser"),
    "jer-2": Variant(AVTNet, TWO_PHASE,
                     {"joint": "dense", "individual_embeddings": False, "joint_loss": "prototypical"},
                     "as jer-1 with the triplet prototypical loss"),
    "dense-triplet": Variant(AVTNet, TWO_PHASE, {"joint": "dense", "modality_loss": "batch_hard"},
                             "individual embeddings with the batch-hard loss, dense joint embedding"),
}


def input_fields(shapes):
    """AVTNetConfig fields from the example shapes: audio_shape and image_size of the run's modalities.
    ValueError (one line, naming the modality) for data that are not log-mels [frames, mels] and image frames
    [height, width, channels], e.g. a manifest of feature vectors."""
    for modality, shape in shapes.items():
        rank = 2 if modality == "audio" else 3
        if len(shape) != rank:
            what = "log-mels [frames, mels]" if modality == "audio" else "image frames [height, width, channels]"
            raise ValueError(f"avtnet: the data's {modality} inputs have shape {tuple(shape)}; AVTNet reads "
                             f"{what} (a manifest of other features needs a system that takes them)")
    fields = {}
    if "audio" in shapes:
        fields["audio_shape"] = tuple(shapes["audio"])
    images = [shapes[m] for m in ("visible", "thermal") if m in shapes]
    if images:
        fields["image_size"] = tuple(images[0][:2])
    if "thermal" in shapes:
        fields["thermal_channels"] = shapes["thermal"][2]
    return fields


SYSTEM = System("avtnet", AVTNetConfig, VARIANTS, {"small": small, "paper": paper}, input_fields, build_recognizer)
