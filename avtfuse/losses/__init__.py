"""Metric-learning losses: batch-hard triplet, AVTNet missing-modality, prototypical triplet."""

from avtfuse.losses.distances import masked_maximum, masked_minimum, pairwise_distances
from avtfuse.losses.missing_modality import MissingModalityLoss, missing_modality_loss
from avtfuse.losses.prototypical import TripletPrototypicalLoss, triplet_prototypical_loss
from avtfuse.losses.triplet import BatchHardTripletLoss, batch_hard_triplet_loss

__all__ = [
    "BatchHardTripletLoss",
    "MissingModalityLoss",
    "TripletPrototypicalLoss",
    "batch_hard_triplet_loss",
    "masked_maximum",
    "masked_minimum",
    "missing_modality_loss",
    "pairwise_distances",
    "triplet_prototypical_loss",
]
