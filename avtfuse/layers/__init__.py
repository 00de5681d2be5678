"""Feature branches, fixed reference features (MFCC statistics, area resize), embedding heads, input
standardisation, attention, fusion, pooling and decoder blocks (shared by systems)."""

from avtfuse.layers.area_resize import AreaResize
from avtfuse.layers.attention_vector_fusion import AttentionVectorFusion
from avtfuse.layers.audio_branch import AudioBranch
from avtfuse.layers.blocked_attention import BlockedMultiHeadAttention
from avtfuse.layers.causal_transformer_encoder import CausalTransformerEncoder
from avtfuse.layers.cross_attention import CrossAttention, CrossAttentionBlock
from avtfuse.layers.dense_joint_encoder import DenseJointEncoder
from avtfuse.layers.embedding_head import EmbeddingHead
from avtfuse.layers.frame_encoder import FrameEncoder
from avtfuse.layers.guided_spatial_attention import AudioGuidedSpatialAttention
from avtfuse.layers.image_branch import ImageBranch
from avtfuse.layers.l2_normalize import L2Normalize
from avtfuse.layers.lfi_decoder import CrossAttentionDecoderLayer, LFIDecoder
from avtfuse.layers.mct_encoder import MCTEncoder, MCTEncoderLayer
from avtfuse.layers.mfcc_encoder import MFCCEncoder
from avtfuse.layers.mfcc_statistics import MFCCStatistics
from avtfuse.layers.position_embedding import SinusoidalPositionEmbedding
from avtfuse.layers.rescaled_attention import MultimodalRescaledAttention
from avtfuse.layers.sequence_pooling import CGatePooling, MaskedAttentionPooling
from avtfuse.layers.sequence_statistics import SequenceStatistics
from avtfuse.layers.standardization import Standardization
from avtfuse.layers.temporal_conv_block import TemporalConvBlock
from avtfuse.layers.token_presence import TokenPresence
from avtfuse.layers.transformer_block import TransformerBlock
from avtfuse.layers.video3d_encoder import Video3DEncoder

__all__ = [
    "AreaResize",
    "AttentionVectorFusion",
    "AudioBranch",
    "AudioGuidedSpatialAttention",
    "BlockedMultiHeadAttention",
    "CGatePooling",
    "CausalTransformerEncoder",
    "CrossAttention",
    "CrossAttentionBlock",
    "CrossAttentionDecoderLayer",
    "DenseJointEncoder",
    "EmbeddingHead",
    "FrameEncoder",
    "ImageBranch",
    "L2Normalize",
    "LFIDecoder",
    "MCTEncoder",
    "MCTEncoderLayer",
    "MFCCEncoder",
    "MFCCStatistics",
    "MaskedAttentionPooling",
    "MultimodalRescaledAttention",
    "SequenceStatistics",
    "SinusoidalPositionEmbedding",
    "Standardization",
    "TemporalConvBlock",
    "TokenPresence",
    "TransformerBlock",
    "Video3DEncoder",
]
