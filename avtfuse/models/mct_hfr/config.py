"""MCT-HFR's architecture and loss settings."""

import dataclasses
import numbers

from avtfuse.config import WidthConfig, setting
from avtfuse.contract import MODALITIES, canonical_modalities
from avtfuse.layers.frame_encoder import KINDS as FRAME_ENCODERS, MIN_FRAME_SIDE

POOLINGS = ("attention", "cgate")
ALIGNMENTS = ("cmd", "smooth_l1", "cosine", "jsd")


@dataclasses.dataclass(frozen=True)
class MCTHFRConfig(WidthConfig):
    """Settings of MCT-HFR (Chen and Zhang; SYSTEMS.md 3.2-3.3). Defaults: the paper's model (d = 128, 4 heads,
    4 layers) with the public code's outer residual, on audio, visible and thermal.

    Fields:
        modalities: the run's modalities (canonical order; a comma string is accepted).
        audio_shape, visible_shape, thermal_shape: the example shape of each modality's sequence:
            (T, D) features (log-mel frames, or per-frame features from a manifest's `.npy` files) or
            (T, H, W, C) frames, which a FrameEncoder turns into (T, frame_units) features.
        units: d, the width of every token; heads: attention heads (dividing d); layers: N MRAU layers.
        conv_kernels: kernel of the bias-free Conv1D that projects each modality to d, in canonical order
            (audio, visible, thermal); the paper's (3, 3, 1) gives 1 to text only, its code 1 everywhere.
        embedding_dropout: dropout on sqrt(d) X' + PE (the code's 0.25).
        attention_dropout: attention-weight dropout of each modality's queries (audio, visible, thermal).
        dropout: residual and FFN dropout of the MRAU layers and the decoders (0.1).
        outer_residual: x <- x + Dropout(MRAU(x)) around every layer and a final LayerNorm (the code's).
        gamma_b, gamma_e: the key re-scaling by sequence length and by total length (eq. 6).
        pooling: "attention" (the paper's, masked) or "cgate" (the code's GRU gate, masked max).
        cgate_units: the C_GATE hidden width (d / 2 in the code).
        lfi: train the local feature imagination decoders (reconstruct the missing steps).
        gfa: train the global feature alignment (complete-view classification + alignment).
        alignment: the GFA distance: "cmd" (the paper's), "smooth_l1", "cosine" or "jsd" (its Fig. 5).
        cmd_moments: K of CMD.
        gfa_weight, lfi_weight: alpha and beta of L = L_CE + alpha L_GFA + beta L_LFI.
        decoder_layers: layers of each LFI decoder.
        decoder_ffn_units: hidden width of the feed-forward network of each LFI decoder block (the code's 512,
            4 d at its d = 128).
        frame_encoder, frame_filters, frame_units: the per-frame encoder of frame inputs (layers.FrameEncoder).
        standardize_audio: standardise the audio per band on the training data ("audio_standardize").
        width_multiplier: scales units (to a multiple of heads; the MRAU feed-forward width is 4 d),
            decoder_ffn_units, cgate_units, frame_filters and frame_units, and the head's hidden layer
            (`WidthConfig`); the frame encoder's 64 output filters keep theirs.
    """

    modalities: tuple = MODALITIES
    audio_shape: tuple = (400, 80)
    visible_shape: tuple = (40, 48, 48, 3)
    thermal_shape: tuple = (40, 48, 48, 1)
    units: int = setting(128, "d, the width of every token (a multiple of heads)", preset=True)
    heads: int = 4
    layers: int = setting(4, "N, the MRAU layers", preset=True)
    conv_kernels: tuple = (3, 3, 3)
    embedding_dropout: float = 0.25
    attention_dropout: tuple = (0.1, 0.0, 0.0)
    dropout: float = 0.1
    outer_residual: bool = True
    gamma_b: bool = setting(True, "key re-scaling by each modality's length")
    gamma_e: bool = setting(True, "key re-scaling by the total length")
    pooling: str = setting("attention", "attention (the paper's) or cgate (the public code's GRU gate, masked max)",
                           choices=POOLINGS, preset=True)
    cgate_units: int = 64
    lfi: bool = setting(True, "local feature imagination (decoders)")
    gfa: bool = setting(True, "global feature alignment")
    alignment: str = setting("cmd", "the GFA distance", choices=ALIGNMENTS, preset=True)
    cmd_moments: int = 5
    gfa_weight: float = setting(0.4, "alpha, the weight of global feature alignment", preset=True)
    lfi_weight: float = setting(0.6, "beta, the weight of local feature imagination", preset=True)
    decoder_layers: int = setting(2, "layers of each LFI decoder", preset=True)
    decoder_ffn_units: int = setting(512, "hidden width of the feed-forward network of each LFI decoder block (the "
                                     "code's)", identity_at_default=False)
    frame_encoder: str = "small"
    frame_filters: int = 64
    frame_units: int = setting(128, "features per frame of the frame encoder (frame inputs)", preset=True)
    standardize_audio: bool = True

    def __post_init__(self):
        super().__post_init__()
        self._set("modalities", canonical_modalities(self.modalities))
        for modality in MODALITIES:
            name = f"{modality}_shape"
            value = getattr(self, name)
            if isinstance(value, str) or not hasattr(value, "__len__") or len(value) not in (2, 4) or not all(
                    isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in value):
                self._fail(name, "(T, D) features or (T, H, W, C) frames, integers >= 1")
            self._set(name, tuple(int(v) for v in value))
        self.check_int("units", "heads", "layers", "cgate_units", "cmd_moments", "decoder_layers", "frame_filters",
                       "frame_units", "decoder_ffn_units")
        if self.units % self.heads:
            self._fail("heads", f"a divisor of units = {self.units}")
        for name in ("conv_kernels", "attention_dropout"):
            value = tuple(getattr(self, name))
            if len(value) != len(MODALITIES):
                self._fail(name, f"{len(MODALITIES)} values, one per modality of {MODALITIES}")
            self._set(name, value)
        if not all(isinstance(k, numbers.Integral) and not isinstance(k, bool) and k >= 1 for k in self.conv_kernels):
            self._fail("conv_kernels", "integers >= 1")
        if not all(isinstance(r, numbers.Real) and not isinstance(r, bool) and 0 <= r < 1
                   for r in self.attention_dropout):
            self._fail("attention_dropout", "rates in [0, 1)")
        self._set("conv_kernels", tuple(int(k) for k in self.conv_kernels))
        self._set("attention_dropout", tuple(float(r) for r in self.attention_dropout))
        self.check_rate("embedding_dropout", "dropout")
        self.check_bool("outer_residual", "gamma_b", "gamma_e", "lfi", "gfa", "standardize_audio")
        self.check_choice("pooling", POOLINGS)
        self.check_choice("alignment", ALIGNMENTS)
        self.check_choice("frame_encoder", FRAME_ENCODERS)
        for name in ("gfa_weight", "lfi_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
                self._fail(name, "a loss weight >= 0")
            self._set(name, float(value))
        side = MIN_FRAME_SIDE[self.frame_encoder]
        for modality in self.modalities:
            shape = self.input_shape(modality)
            if len(shape) == 4 and min(shape[1:3]) < side:
                self._fail(f"{modality}_shape", f"frames of at least {side} x {side} for the "
                                                f"{self.frame_encoder!r} frame encoder")

    def hidden_widths(self):
        return {"units": self.heads, "decoder_ffn_units": 1, "cgate_units": 1, "frame_filters": 1, "frame_units": 1}

    def input_shape(self, modality):
        """The example shape (without the batch axis) of one modality."""
        return getattr(self, f"{modality}_shape")

    def is_frames(self, modality):
        """True when the modality arrives as frames (T, H, W, C) rather than features (T, D)."""
        return len(self.input_shape(modality)) == 4

    def setting(self, name, modality):
        """A per-modality setting (conv_kernels, attention_dropout) of one modality."""
        return getattr(self, name)[MODALITIES.index(modality)]

    @property
    def hybrid(self):
        """True when training reconstructs or aligns (LFI or GFA): it then needs the complete view."""
        return self.lfi or self.gfa
