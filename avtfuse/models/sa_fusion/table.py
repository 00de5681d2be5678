"""The SA-fusion paper's Table II: its rows (fusion x heads), settings (modality dropout), conditions and published
numbers (RAVDESS, 5 folds, EfficientFace pre-trained on AffectNet; accuracy %)."""

ROWS = ("lt1", "lt4", "it1", "it4", "ia1", "ia4")
CONDITIONS = ("complete", "only_audio", "only_visible", "average")
CONDITION_LABELS = {"complete": "AV", "only_audio": "A", "only_visible": "V", "average": "M"}

# AV / A / V / M per (row, modality-dropout setting).
PAPER_TABLE_II = {
    ("lt1", "none"): (79.33, 19.83, 36.41, 45.19), ("lt1", "softhard"): (79.08, 59.16, 72.66, 70.30),
    ("lt1", "noise"): (77.08, 53.16, 68.50, 66.25),
    ("lt4", "none"): (76.42, 27.92, 30.00, 44.78), ("lt4", "softhard"): (79.25, 53.00, 70.92, 67.72),
    ("lt4", "noise"): (80.33, 54.33, 73.00, 69.22),
    ("it1", "none"): (76.41, 21.16, 18.33, 38.63), ("it1", "softhard"): (77.33, 48.41, 73.75, 66.50),
    ("it1", "noise"): (76.75, 53.75, 71.58, 67.36),
    ("it4", "none"): (78.50, 20.33, 17.33, 38.72), ("it4", "softhard"): (78.91, 44.33, 74.92, 66.05),
    ("it4", "noise"): (76.08, 54.50, 71.00, 67.19),
    ("ia1", "none"): (76.00, 18.58, 22.83, 39.13), ("ia1", "softhard"): (81.58, 58.08, 72.83, 70.83),
    ("ia1", "noise"): (78.25, 58.25, 71.66, 69.38),
    ("ia4", "none"): (77.41, 20.66, 29.83, 42.63), ("ia4", "softhard"): (79.58, 57.16, 71.83, 69.52),
    ("ia4", "noise"): (78.41, 55.75, 68.58, 67.58),
}
