"""CFN-SR's architecture settings and the split that chooses its epochs."""

import dataclasses
import numbers

from avtfuse.config import WidthConfig, setting
from avtfuse.contract import canonical_modalities
from avtfuse.layers.guided_spatial_attention import SOFTMAX_AXES
from avtfuse.layers.mfcc_encoder import MINIMUM_STEPS

AUDIO_TO_HEAD = ("raw", "attended")
SELECTIONS = ("strict", "paper")


@dataclasses.dataclass(frozen=True)
class CFNSRConfig(WidthConfig):
    """Settings of CFN-SR (Fu et al., ICASSP 2022; SYSTEMS.md 4.2). Defaults: the paper's A+V model at the paper
    preset's shapes, with the 3-D encoder stand-in for the 3-D ResNeXt-50.

    Fields:
        modalities: the run's modalities (canonical order; a comma string is accepted). The paper runs audio and
            visible; thermal is a second visual modality with a block of its own (SYSTEMS.md 4.6); one modality
            gives that modality's unimodal net.
        audio_shape: (time, n_mfcc) of the MFCC input, (212, 13) for 2.45 s at 44.1 kHz, hop 512.
        visible_shape, thermal_shape: (frames, height, width, channels) of the clips.
        audio_filters: the three MFCCNet convolution widths; the last is the audio feature width d.
        audio_dropout: MFCCNet's dropout after its pooling (0.2).
        head_dropout: dropout on the flattened audio features before the classifier (0.4).
        video_widths, video_strides: the Video3DEncoder's stage widths and (time, height, width) strides.
        attention_units: k, the width of the audio-guided attention's joint space (64).
        transformer_layers, transformer_heads, transformer_ff: the causal audio transformer (5, 8, 256);
            it runs at the audio feature width d, which the heads must divide.
        transformer_dropout, embed_dropout: its attention / ReLU / residual dropout (0.1) and input dropout (0.3).
        cross_modal: the audio-guided attention block (False: Table 2's "w/o cross-modal blocks", the pooled
            video and the audio features concatenated).
        self_attention: the guide is the causal transformer's last step (False: Table 2's "w/o self-attention",
            the time-mean of the audio features through a Dense(d) layer).
        residual: the block returns x (1 + alpha) (False: Table 2's "w/o residual", x alpha).
        softmax_over: "hw" (per temporal slice, the code) or "thw" (over the whole map).
        audio_to_head: what audio the classifier reads beside the pooled video: "raw" (the MFCCNet features,
            flattened, as the code) or "attended" (the guide vector; needs the block, audio and a camera).
        selection: which split chooses the epoch of every phase (read by the "pretrain_then_fuse" recipe):
            "strict" (validation actors) or "paper" (the test actors, the paper's optimistic protocol).
        width_multiplier: scales audio_filters (the last, d, to a multiple of transformer_heads), video_widths,
            attention_units and transformer_ff (`WidthConfig`).
    """

    modalities: tuple = ("audio", "visible")
    audio_shape: tuple = (212, 13)
    visible_shape: tuple = (16, 112, 112, 3)
    thermal_shape: tuple = (16, 112, 112, 1)
    audio_filters: tuple = (32, 32, 64)
    audio_dropout: float = 0.2
    head_dropout: float = 0.4
    video_widths: tuple = (32, 64, 128, 256)
    video_strides: tuple = ((1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2))
    attention_units: int = 64
    transformer_layers: int = setting(5, "layers of the causal audio transformer")
    transformer_heads: int = 8
    transformer_ff: int = setting(256, "feed-forward width of the causal audio transformer")
    transformer_dropout: float = 0.1
    embed_dropout: float = 0.3
    cross_modal: bool = True
    self_attention: bool = True
    residual: bool = True
    softmax_over: str = setting("hw", "attention softmax per temporal slice over H x W (hw, the code's) or over the "
                                "whole map (thw)", choices=SOFTMAX_AXES, preset=True)
    audio_to_head: str = setting("raw", "audio the classifier reads: raw (the MFCCNet features, the code's) or "
                                 "attended (the audio transformer's last step)", choices=AUDIO_TO_HEAD, preset=True)
    selection: str = setting("strict", "strict: validation actors choose each phase's epoch, the test split is read "
                             "once; paper: no validation actors, the best test epoch is reported (optimistic)",
                             choices=SELECTIONS)

    def __post_init__(self):
        super().__post_init__()
        self._set("modalities", canonical_modalities(self.modalities))
        self._set("audio_shape", self._integers("audio_shape", self.audio_shape, 2))
        self._set("visible_shape", self._integers("visible_shape", self.visible_shape, 4))
        self._set("thermal_shape", self._integers("thermal_shape", self.thermal_shape, 4))
        self._set("audio_filters", self._integers("audio_filters", self.audio_filters, 3))
        if isinstance(self.video_widths, str) or not hasattr(self.video_widths, "__len__") or not self.video_widths:
            self._fail("video_widths", "one or more integers >= 1")
        self._set("video_widths", self._integers("video_widths", self.video_widths, len(self.video_widths)))
        if isinstance(self.video_strides, str) or not hasattr(self.video_strides, "__len__") or \
                len(self.video_strides) != len(self.video_widths):
            self._fail("video_strides", f"{len(self.video_widths)} (time, height, width) triples, one per width")
        self._set("video_strides", tuple(self._integers("video_strides", stride, 3)
                                         for stride in self.video_strides))
        self.check_int("attention_units", "transformer_layers", "transformer_heads", "transformer_ff")
        self.check_rate("audio_dropout", "head_dropout", "transformer_dropout", "embed_dropout")
        self.check_bool("cross_modal", "self_attention", "residual")
        self.check_choice("softmax_over", SOFTMAX_AXES)
        self.check_choice("audio_to_head", AUDIO_TO_HEAD)
        self.check_choice("selection", SELECTIONS)
        if "audio" in self.modalities and self.audio_shape[0] < MINIMUM_STEPS:
            self._fail("audio_shape", f"at least {MINIMUM_STEPS} MFCC frames (MFCCNet's convolutions and pooling)")
        if self.audio_filters[-1] % self.transformer_heads:
            self._fail("transformer_heads", f"a divisor of the audio feature width {self.audio_filters[-1]}")
        if self.audio_to_head == "attended" and not self.guided:
            self._fail("audio_to_head", "'raw' without the cross-modal block (cross_modal, audio and a camera)")

    def hidden_widths(self):
        return {"audio_filters": (1, 1, self.transformer_heads), "video_widths": 1, "attention_units": 1,
                "transformer_ff": 1}

    def _integers(self, name, value, length):
        """`value` (part of the named field) as a tuple of `length` integers >= 1."""
        if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != length or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in value):
            self._fail(name, f"{length} integers >= 1")
        return tuple(int(v) for v in value)

    @property
    def visual_modalities(self):
        """The run's cameras (visible, thermal), each with a Video3DEncoder."""
        return tuple(m for m in self.modalities if m != "audio")

    @property
    def guided(self):
        """True when audio guides an attention block over each camera's map (the block on, audio and a camera)."""
        return self.cross_modal and "audio" in self.modalities and bool(self.visual_modalities)

    def input_shape(self, modality):
        """The input shape (without the batch axis) of one modality."""
        return getattr(self, f"{modality}_shape")

    def unimodal(self, modality):
        """The config of `modality`'s unimodal net (pre-training): that modality alone, raw audio to the head."""
        return self.replace(modalities=(modality,), audio_to_head="raw")
