"""Simple scikit-learn reference baselines for single-modality accuracies.

The report shows, beside each single-modality accuracy of a model, what a
simple reference reaches on the same split, so that a model that loses to its
reference is visible at a glance. The reference is fixed features (below)
-> StandardScaler -> LogisticRegression(max_iter=2000), trained on the train
split and scored on the test split.

`reference_features(modality, inputs)` chooses the features from the rank of
`inputs` (the modality's cached model input stacked over N samples):

| inputs | modality | features | F |
|---|---|---|---|
| [N, D] | any | the vectors as they are | D |
| [N, frames, n_mels] | `audio` | log-mel (dB) -> 20 MFCCs (librosa's: DCT-II, ortho), mean, std over time | 2 * min(20, n_mels) |
| [N, T, D] | any other | feature sequence -> mean and std over T | 2 * D |
| [N, H, W, C] | any | images in [0, 1] -> 16 x 16 with cv2.resize INTER_AREA, flattened | 256 * C |
| [N, T, H, W, C] | any | frame sequences -> mean frame over T, then as images | 256 * C |

Audio of rank 3 is always read as a log-mel spectrogram in dB, time-major
(the data contract's `audio` key). Standard deviations are population ones
(ddof 0). The MFCC matrix and the sizes are pipelines.feature_matrices', which the Keras layers of the classical
specialists (avtfuse.models.classical) share. No tensorflow here: numpy, scipy, cv2 and scikit-learn only.
"""

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pipelines.feature_matrices import IMAGE_SIZE, N_MFCC, mfcc_matrix

_MFCC_CHUNK = 256  # samples per matrix product, to bound the float64 scratch memory

_MODEL_DESCRIPTION = " + logistic regression"
_VECTOR = "input vectors" + _MODEL_DESCRIPTION
_SEQUENCE = "feature mean+std over time" + _MODEL_DESCRIPTION
_MFCC = f"MFCC mean+std ({N_MFCC} coefficients)" + _MODEL_DESCRIPTION
_PIXELS = f"{IMAGE_SIZE}x{IMAGE_SIZE} pixels" + _MODEL_DESCRIPTION
_FRAMES = f"mean frame, {IMAGE_SIZE}x{IMAGE_SIZE} pixels" + _MODEL_DESCRIPTION

# What the reference is for each modality's contract input (see the table above), for the report.
REFERENCE_DESCRIPTIONS = {"audio": _MFCC, "visible": _PIXELS, "thermal": _PIXELS}


def reference_description(modality, inputs):
    """The description of the reference that `reference_features` applies to `inputs` (rank 2 to 5)."""
    rank = np.ndim(inputs)
    if rank == 3:
        return _MFCC if modality == "audio" else _SEQUENCE
    descriptions = {2: _VECTOR, 4: _PIXELS, 5: _FRAMES}
    if rank not in descriptions:
        raise ValueError(f"inputs: expected rank 2 to 5 ([N, ...]), got shape {np.shape(inputs)}")
    return descriptions[rank]


def mfcc_statistics(log_mel):
    """float32 [N, 2 * min(20, n_mels)]: MFCC means then standard deviations over time.

    log_mel: [N, frames, n_mels] log-mel spectrograms in dB, time-major. The
    MFCCs are `librosa.feature.mfcc(S=log_mel[i].T, n_mfcc=20)` (DCT type 2,
    ortho, over the mel axis; no liftering): `log_mel @ mfcc_matrix(n_mels)`.
    """
    log_mel = np.asarray(log_mel, dtype=np.float32)
    matrix = mfcc_matrix(log_mel.shape[-1], N_MFCC)
    chunks = []
    for start in range(0, log_mel.shape[0], _MFCC_CHUNK):
        mfcc = log_mel[start:start + _MFCC_CHUNK] @ matrix  # [n, frames, K]
        mfcc = mfcc.astype(np.float64)
        chunks.append(np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)], axis=-1))
    return np.concatenate(chunks).astype(np.float32)


def pixel_features(images):
    """float32 [N, 256 * C]: images [N, H, W, C] in [0, 1] downsampled to 16 x 16 (cv2 INTER_AREA), flattened."""
    images = np.asarray(images, dtype=np.float32)
    size = (IMAGE_SIZE, IMAGE_SIZE)
    small = [cv2.resize(image, size, interpolation=cv2.INTER_AREA).reshape(-1) for image in images]
    return np.stack(small).astype(np.float32)


def reference_features(modality, inputs, name="inputs"):
    """float32 [N, F] reference features of `inputs` [N, ...]; the rule per rank is in the module docstring.

    `name` is the argument that error messages name (reference_accuracy passes "train_inputs"/"test_inputs").
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.ndim < 2 or inputs.ndim > 5:
        raise ValueError(f"{name}: expected rank 2 to 5 ([N, ...]), got shape {inputs.shape}")
    if inputs.shape[0] == 0 or inputs[0].size == 0:
        raise ValueError(f"{name}: empty, shape {inputs.shape}")
    if not np.all(np.isfinite(inputs)):
        raise ValueError(f"{name}: holds NaN or infinite values")
    if inputs.ndim == 2:
        return inputs
    if inputs.ndim == 3:
        if modality == "audio":
            return mfcc_statistics(inputs)
        sequence = inputs.astype(np.float64)
        return np.concatenate([sequence.mean(axis=1), sequence.std(axis=1)], axis=-1).astype(np.float32)
    if inputs.ndim == 5:
        inputs = inputs.mean(axis=1)
    return pixel_features(inputs)


def check_split(name, inputs, labels, min_classes=1):
    """Validates one split's inputs [N, ...] and labels [N] (at least `min_classes` distinct); returns labels as
    an array [N]. `name` is "train" or "test": errors name "<name>_inputs" or "<name>_labels"."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name}_labels: expected shape [N], got {labels.shape}")
    if labels.size == 0:
        raise ValueError(f"{name}_labels: empty; need at least one sample")
    if np.ndim(inputs) == 0 or len(inputs) == 0:
        raise ValueError(f"{name}_inputs: empty; need at least one sample")
    if len(inputs) != labels.shape[0]:
        raise ValueError(f"{name}_inputs: {len(inputs)} samples for {labels.shape[0]} entries of {name}_labels")
    if np.unique(labels).size < min_classes:
        raise ValueError(f"{name}_labels: {np.unique(labels).size} class(es) ({labels[0]!r}); need at least "
                         f"{min_classes}")
    return labels


def reference_model(seed=0):
    """The unfitted reference classifier over reference features: StandardScaler -> LogisticRegression."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))


def reference_accuracy(modality, train_inputs, train_labels, test_inputs, test_labels, seed=0):
    """Test accuracy (a fraction in [0, 1]) of the modality's reference trained on the train split.

    The reference is `reference_model(seed)` on `reference_features(modality, ...)` of each split.
    Inputs: [N, ...] as in the module docstring; labels: [N] integer class
    labels. Raises ValueError naming the argument for empty inputs,
    mismatched lengths, a training set with a single class, or train and test
    features of different widths.
    """
    train_labels = check_split("train", train_inputs, train_labels, min_classes=2)
    test_labels = check_split("test", test_inputs, test_labels)
    train_features = reference_features(modality, train_inputs, "train_inputs")
    test_features = reference_features(modality, test_inputs, "test_inputs")
    if train_features.shape[1] != test_features.shape[1]:
        raise ValueError(
            f"test_inputs: {test_features.shape[1]} features per sample, train_inputs give {train_features.shape[1]}"
        )
    model = reference_model(seed)
    model.fit(train_features, train_labels)
    return float(model.score(test_features, test_labels))
