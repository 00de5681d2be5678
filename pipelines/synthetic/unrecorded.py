"""Recordings of the synthetic sets that arrive incomplete (`--natural-missing`): which sensors each recording
lacks, the files of those sensors left out of the written tree, and the list of them the tree carries
(NOT_RECORDED_FILE), which the SpeakingFaces reader reads as empty manifest cells (not recorded, not a bad file).
"""

import csv
import os

import numpy as np

NOT_RECORDED_FILE = "not_recorded.csv"  # at the root of a tree: one row (recording, modality) per cell left out
_STREAM = 24  # the random stream of the draw (beside the generators' own)


def unrecorded_cells(count, shares, seed):
    """bool [count, M]: True where recording i (in writing order) lacks modality m.

    shares [M]: the share of the recordings written without each modality;
    round(share * count) lack it (one fewer where rounding up would leave a
    recording with none). Every recording keeps at least one:
    the recordings are drawn in an order fixed by `seed` and each modality's
    recordings are the next run of them along that order, wrapping around, so a
    recording lacks two sensors only once the counts pass `count` (ValueError
    naming natural_missing when they add up past (M - 1) * count)."""
    shares = [float(share) for share in shares]
    if any(not 0.0 <= share <= 1.0 for share in shares):
        raise ValueError(f"natural_missing: expected shares in [0, 1], got {shares}")
    exact = [share * count for share in shares]
    counts = [int(round(value)) for value in exact]
    while sum(counts) > (len(shares) - 1) * count:  # rounded up past what fits: round down the most rounded up
        over = [column for column, value in enumerate(exact) if counts[column] > value]
        if not over:
            raise ValueError(f"natural_missing: {counts} of {count} recordings without each sensor would leave some "
                             "recording with none; every recording keeps one sensor")
        counts[max(over, key=lambda column: counts[column] - exact[column])] -= 1
    order = np.random.default_rng([seed, _STREAM]).permutation(count)
    cells = np.zeros((count, len(shares)), bool)
    start = 0
    for column, lacking in enumerate(counts):
        cells[order[(start + np.arange(lacking)) % count], column] = True
        start += lacking
    return cells


def leave_out(files, lacking):
    """Deletes the just-written files of the modalities a recording lacks: files {modality: tuple of paths},
    lacking {modality: bool}; returns `files` with those emptied (())."""
    kept = {}
    for modality, paths in files.items():
        if lacking.get(modality, False):
            for path in paths:
                os.remove(path)
            paths = ()
        kept[modality] = tuple(paths)
    return kept


def write_not_recorded(root, cells):
    """Adds cells [(recording id, modality)] left out to NOT_RECORDED_FILE under `root` (a tree written a split
    at a time keeps the cells of every split)."""
    cells = sorted(read_not_recorded(root) | {tuple(cell) for cell in cells})
    with open(os.path.join(root, NOT_RECORDED_FILE), "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["recording", "modality"])
        writer.writerows(cells)


def read_not_recorded(root):
    """The set of (recording id, modality) cells the tree at `root` lists as not recorded (empty without
    NOT_RECORDED_FILE)."""
    path = os.path.join(root, NOT_RECORDED_FILE)
    if not os.path.exists(path):
        return set()
    with open(path, newline="") as file:
        return {(row["recording"], row["modality"]) for row in csv.DictReader(file)}
