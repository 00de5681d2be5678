"""Losses: batch-hard triplet, AVTNet missing-modality, prototypical triplet; MCT-HFR CMD and masked reconstruction."""

from avtfuse.losses.cmd import central_moment_discrepancy
from avtfuse.losses.distances import masked_maximum, masked_minimum, pairwise_distances
from avtfuse.losses.missing_modality import MissingModalityLoss, missing_modality_loss
from avtfuse.losses.prototypical import TripletPrototypicalLoss, triplet_prototypical_loss
from avtfuse.losses.reconstruction import masked_smooth_l1
from avtfuse.losses.triplet import BatchHardTripletLoss, batch_hard_triplet_loss

__all__ = [
    "BatchHardTripletLoss",
    "MissingModalityLoss",
    "TripletPrototypicalLoss",
    "batch_hard_triplet_loss",
    "central_moment_discrepancy",
    "masked_maximum",
    "masked_minimum",
    "masked_smooth_l1",
    "missing_modality_loss",
    "pairwise_distances",
    "triplet_prototypical_loss",
]
