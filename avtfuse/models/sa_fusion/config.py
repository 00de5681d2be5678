"""SA-fusion's architecture settings."""

import dataclasses
import numbers

from avtfuse.config import WidthConfig, setting
from avtfuse.contract import canonical_modalities
from avtfuse.layers.frame_encoder import KINDS as FRAME_ENCODERS, MIN_FRAME_SIDE

FUSIONS = ("lt", "it", "ia")
HEADS = (1, 4)  # the paper's head counts (any divisor of 64 builds)
# Time steps the four audio blocks remove (each: "valid" conv of 3, max-pool 2 / stride 1).
AUDIO_SHRINK = 12


@dataclasses.dataclass(frozen=True)
class SAFusionConfig(WidthConfig):
    """Architecture settings of SA-fusion (Chumachenko, Iosifidis, Gabbouj, ICPR 2022; SYSTEMS.md 2.2).

    Defaults: the paper's A+V model with intermediate attention (IA1) and the
    small frame encoder at 48 x 48.

    Fields:
        modalities: the run's modalities (canonical order; a comma string is accepted). The
            paper runs audio and visible; any non-empty subset builds (one modality: no fusion).
        audio_shape: (time, n_mfcc) of the MFCC input, (156, 10) for 3.6 s at 22,050 Hz.
        visible_shape, thermal_shape: (frames, height, width, channels) of the frame sequences.
        fusion: "lt" (late transformer, after stage 2), "it" (intermediate transformer, after
            stage 1) or "ia" (intermediate attention, after stage 1).
        heads: attention heads of every cross-attention (the paper: 1 or 4).
        frame_encoder: "small" (ImageBranch -> average pool -> Dense, from scratch) or
            "mobilenet" (MobileNetV3Small, from scratch; the stand-in for EfficientFace).
        frame_filters: filters of the small encoder's ImageBranch convolutions.
        frame_units: output width of the small encoder's Dense layer (D_f).
        audio_width: w_a; the four audio blocks have w_a, 2 w_a (stage 1), 4 w_a, 2 w_a (stage 2) filters (the
            paper's 64: 64, 128, 256, 128).
        visual_width: w_v; the four blocks of each visual modality have w_v, w_v (stage 1), 2 w_v, 2 w_v (stage 2)
            filters (the paper's 64: 64, 64, 128, 128).
        lt_units: width of the LT blocks' cross-attention (the paper's 128).
        query_residual: add the query tokens around the cross-attention of the LT and IT
            blocks (not in the reference code, which the default follows).
        standardize_audio: put a Standardization layer ("audio_standardize", fitted by
            `adapt`) before the audio branch. Not in the reference code (raw MFCCs).
        width_multiplier: scales frame_filters, frame_units, and audio_width, visual_width and lt_units (each to a
            multiple of heads) (`WidthConfig`); MobileNetV3Small keeps its widths.
    """

    modalities: tuple = ("audio", "visible")
    audio_shape: tuple = (156, 10)
    visible_shape: tuple = (15, 48, 48, 3)
    thermal_shape: tuple = (15, 48, 48, 1)
    fusion: str = setting("ia", "lt: late transformer; it: intermediate transformer; ia: intermediate attention",
                          choices=FUSIONS)
    heads: int = setting(1, "attention heads", choices=HEADS)
    frame_encoder: str = setting("small", "per-frame encoder: small (ImageBranch; small preset) or mobilenet "
                                 "(MobileNetV3Small from scratch; paper preset), stand-ins for the unavailable "
                                 "EfficientFace weights", choices=FRAME_ENCODERS, preset=True)
    frame_filters: int = setting(32, "filters of the small frame encoder's convolutions", preset=True)
    frame_units: int = setting(256, "D_f, features per frame of the small frame encoder", preset=True)
    audio_width: int = setting(64, "w_a: the audio blocks' filters are w_a, 2 w_a, 4 w_a, 2 w_a", preset=True)
    visual_width: int = setting(64, "w_v: each visual branch's blocks' filters are w_v, w_v, 2 w_v, 2 w_v",
                                preset=True)
    lt_units: int = setting(128, "width of the late transformer's cross-attention (--fusion lt)", preset=True)
    query_residual: bool = setting(False, "a residual from the query around each cross-attention block (not in "
                                   "the code)")
    standardize_audio: bool = False

    def __post_init__(self):
        super().__post_init__()
        self._set("modalities", canonical_modalities(self.modalities))
        self.check_shape("audio_shape", 2)
        self.check_shape("visible_shape", 4)
        self.check_shape("thermal_shape", 4)
        self.check_choice("fusion", FUSIONS)
        self.check_choice("frame_encoder", FRAME_ENCODERS)
        self.check_int("heads", "frame_filters", "frame_units", "audio_width", "visual_width", "lt_units")
        self.check_bool("query_residual", "standardize_audio")
        for width, what in self.attention_widths():
            if width % self.heads:
                self._fail("heads", f"a divisor of {width} ({what})")
        if "audio" in self.modalities and self.audio_shape[0] <= AUDIO_SHRINK:
            self._fail("audio_shape", f"more than {AUDIO_SHRINK} time steps (four valid conv + pool blocks)")
        side = MIN_FRAME_SIDE[self.frame_encoder]
        for modality in ("visible", "thermal"):
            name = f"{modality}_shape"
            if modality in self.modalities and min(getattr(self, name)[1:3]) < side:
                self._fail(name, f"frames of at least {side} x {side} for the {self.frame_encoder!r} frame encoder")

    def hidden_widths(self):
        return {"frame_filters": 1, "frame_units": 1, "audio_width": self.heads, "visual_width": self.heads,
                "lt_units": self.heads}

    def check_shape(self, name, length):
        """The named field is `length` integers >= 1 (stored as a tuple)."""
        value = getattr(self, name)
        if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != length or not all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in value):
            self._fail(name, f"{length} integers >= 1")
        self._set(name, tuple(int(v) for v in value))

    def attention_widths(self):
        """[(width, what it is)] of the tokens the fusion's attention heads split: the stage-1 widths of the run's
        modalities (IA, IT) or the LT width."""
        if self.fusion == "lt":
            return [(self.lt_units, "lt_units")]
        return [(self.stage_width(m, 1), f"the {m} stage-1 width") for m in self.modalities]

    def stage_width(self, modality, stage):
        """The output width of stage 1 or 2 of a modality's branch."""
        return 2 * self.audio_width if modality == "audio" else stage * self.visual_width

    def input_shape(self, modality):
        """The input shape (without the batch axis) of one modality."""
        return getattr(self, f"{modality}_shape")
