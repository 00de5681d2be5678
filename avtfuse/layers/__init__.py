"""Feature branches, embedding heads, input standardisation and the transformer block (shared by systems)."""

from avtfuse.layers.attention_vector_fusion import AttentionVectorFusion
from avtfuse.layers.audio_branch import AudioBranch
from avtfuse.layers.cross_attention import CrossAttention, CrossAttentionBlock
from avtfuse.layers.dense_joint_encoder import DenseJointEncoder
from avtfuse.layers.embedding_head import EmbeddingHead
from avtfuse.layers.image_branch import ImageBranch
from avtfuse.layers.l2_normalize import L2Normalize
from avtfuse.layers.standardization import Standardization
from avtfuse.layers.temporal_conv_block import TemporalConvBlock
from avtfuse.layers.transformer_block import TransformerBlock

__all__ = [
    "AttentionVectorFusion",
    "AudioBranch",
    "CrossAttention",
    "CrossAttentionBlock",
    "DenseJointEncoder",
    "EmbeddingHead",
    "ImageBranch",
    "L2Normalize",
    "Standardization",
    "TemporalConvBlock",
    "TransformerBlock",
]
