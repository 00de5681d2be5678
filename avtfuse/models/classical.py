"""Classical specialists: the scikit-learn reference baselines fitted on one modality and turned into a
`ContractClassifier` of Keras layers holding the fitted matrices, so the router (`SpecialistFallback`) can answer
with one and it exports inside the SavedModel.

Kinds (features exactly avtfuse.evaluation.reference's; the layers share pipelines.feature_matrices):

- "mfcc_lr", audio log-mel [N, frames, n_mels]: MFCC mean+std -> StandardScaler -> LogisticRegression; in Keras
  MFCCStatistics -> Standardization (the backbone) -> Dense softmax (the head).
- "sequence_lr", any modality's feature sequences [N, T, D] (MFCCs, `.npy` sequences, face embeddings): their
  mean+std over time -> StandardScaler -> LogisticRegression; SequenceStatistics -> Standardization -> Dense
  softmax.
- "pixels_lr", frames [N, H, W, C] with H, W >= 16: 16 x 16 INTER_AREA pixels -> StandardScaler ->
  LogisticRegression; AreaResize -> Standardization -> Dense softmax.
- "fisherfaces", frames as "pixels_lr": 16 x 16 pixels -> PCA -> LinearDiscriminantAnalysis; AreaResize -> Dense
  (the PCA projection) -> Dense softmax (the LDA's decision values).

Frame sequences (frames > 0: [N, T, H, W, C]) are read as their mean frame, as the reference reads them. The
scikit-learn pipeline is fitted on
`reference_features` (cv2 for the pixels); the Keras layers compute the same features within 1e-6 (their tests).

Fisherfaces (Belhumeur, Hespanha and Kriegman, 1997): PCA to N - C components (N training samples, C classes),
the most that keeps the within-class scatter nonsingular, then LDA (scikit-learn's SVD solver, priors from the
class frequencies); capped by the feature count 256 C. It needs a class with two samples or more (N > C).
LogisticRegression and LDA give probabilities as the softmax of their decision values; with two classes the
decision is one value z and the probabilities [1 - sigmoid(z), sigmoid(z)] = softmax([0, z]), so the head's
first column is zero. `classifier.serve(inputs)["probabilities"]` equals `pipeline.predict_proba` on
`reference_features` of the same inputs (float32: within 1e-5).

Classes: the classifier's P outputs are `pipeline.classes_` (the sorted distinct training labels); `fit_classical`
returns them, the `classes` a `SpecialistFallback` takes for a specialist lacking some of the fused classes.
"""

import dataclasses

import keras
import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline

from avtfuse.config import Config
from avtfuse.contract import MODALITIES
from avtfuse.evaluation.reference import check_split, reference_features, reference_model
from avtfuse.layers.area_resize import AreaResize
from avtfuse.layers.mfcc_statistics import MFCCStatistics
from avtfuse.layers.sequence_statistics import SequenceStatistics
from avtfuse.layers.standardization import Standardization
from avtfuse.models.base import ContractClassifier, GraphBackbone
from pipelines.feature_matrices import IMAGE_SIZE

KINDS = ("mfcc_lr", "sequence_lr", "pixels_lr", "fisherfaces")
_FRAME_KINDS = ("pixels_lr", "fisherfaces")
READERS = {"mfcc_lr": ("audio",), "sequence_lr": MODALITIES, "pixels_lr": MODALITIES[1:],
           "fisherfaces": MODALITIES[1:]}  # the modalities each kind reads
_RANKS = {"mfcc_lr": (2,), "sequence_lr": (2,), "pixels_lr": (3, 4), "fisherfaces": (3, 4)}  # input ranks, no batch
SEQUENCE = "sequence"  # reference_features' name for a feature sequence of any modality (no MFCCs taken)
_TINY_VARIANCE = float(np.finfo(np.float32).tiny)  # Standardization keeps every fitted variance (scale_ ** 2)


@dataclasses.dataclass(frozen=True)
class ClassicalConfig(Config):
    """The shape of a classical specialist's backbone (the fitted values are its weights).

    Fields:
        kind: one of KINDS.
        modality: the one contract modality it reads ("audio" for "mfcc_lr", a camera for the others).
        shape: the modality's input shape without the batch axis: (frames, n_mels) or (H, W, C).
        components: PCA components ("fisherfaces"; 0 for the other kinds).
    """

    kind: str = "pixels_lr"
    modality: str = "visible"
    shape: tuple = (IMAGE_SIZE, IMAGE_SIZE, 3)
    components: int = 0

    def __post_init__(self):
        self.check_choice("kind", KINDS)
        self.check_choice("modality", READERS[self.kind])
        shape = tuple(self.shape) if isinstance(self.shape, (tuple, list)) else ()
        ranks = _RANKS[self.kind]
        if len(shape) not in ranks or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                               for v in shape):
            self._fail("shape", f"{' or '.join(map(str, ranks))} integers >= 1 ({self.modality}'s input without "
                                "the batch axis)")
        if self.kind in _FRAME_KINDS and min(shape[-3:-1]) < IMAGE_SIZE:
            self._fail("shape", f"frames of at least {IMAGE_SIZE} x {IMAGE_SIZE} (AreaResize only shrinks)")
        self._set("shape", shape)
        self.check_int("components", minimum=1 if self.kind == "fisherfaces" else 0)
        if self.kind != "fisherfaces" and self.components:
            self._fail("components", f"0 for kind {self.kind!r}")

    @property
    def modalities(self):
        return (self.modality,)

    def input_shape(self, modality):
        return self.shape


def _build_graph(config, dtype):
    """({modality: Input}, {"features": the standardised features or the PCA projection, float32 [B, D]})."""
    frames = keras.Input(config.shape, name=config.modality)
    if config.kind == "mfcc_lr":
        features = MFCCStatistics(name="mfcc_statistics")(frames)
    elif config.kind == "sequence_lr":
        features = SequenceStatistics(name="sequence_statistics")(frames)
    else:
        features = AreaResize(name="area_resize")(frames)
    if config.kind == "fisherfaces":
        features = keras.layers.Dense(config.components, name="pca", dtype="float32")(features)
    else:
        features = Standardization(min_variance=_TINY_VARIANCE, name="scaler")(features)
    return {config.modality: frames}, {"features": features}


@keras.saving.register_keras_serializable(package="avtfuse")
class ClassicalBackbone(GraphBackbone, keras.Model):
    """A classical specialist's fixed features and fitted linear maps: contract dict -> {"features": float32
    [B, D]} (the module docstring's table; `ClassicalConfig`). Its weights come from `classical_classifier`."""

    config_class = ClassicalConfig
    default_name = "classical"
    build_graph = staticmethod(_build_graph)


def fit_pipeline(kind, modality, train_inputs, train_labels, seed=0):
    """The fitted scikit-learn pipeline of `kind` on `reference_features(modality, train_inputs)`.

    train_inputs: the modality's contract inputs [N, frames, n_mels] (audio, "mfcc_lr") or [N, H, W, C] (a camera,
    H, W >= 16); train_labels: [N] class labels, at least two classes ("fisherfaces": N > C). ValueError naming
    the argument otherwise.
    """
    if kind not in KINDS:
        raise ValueError(f"kind: choose from {KINDS}, got {kind!r}")
    if modality not in READERS[kind]:
        raise ValueError(f"modality: kind {kind!r} reads one of {list(READERS[kind])}, got {modality!r}")
    labels = check_split("train", train_inputs, train_labels, min_classes=2)
    inputs = np.asarray(train_inputs)
    _check_shape(kind, inputs)
    features = reference_features(SEQUENCE if kind == "sequence_lr" else modality, inputs, "train_inputs")
    if kind != "fisherfaces":
        return reference_model(seed).fit(features, labels)
    count = np.unique(labels).size
    if labels.size <= count:
        raise ValueError(f"train_labels: {labels.size} samples of {count} classes; Fisherfaces needs a class with "
                         f"two samples or more")
    components = min(labels.size - count, features.shape[1])
    pipeline = make_pipeline(PCA(n_components=components, random_state=seed), LinearDiscriminantAnalysis())
    return pipeline.fit(features, labels)


def classical_classifier(kind, modality, shape, pipeline):
    """The ContractClassifier on `modality` alone (input `shape` without the batch axis) computing
    `pipeline.predict_proba` (a pipeline from `fit_pipeline`) from contract inputs."""
    _, model = pipeline.steps[-1]
    if kind == "fisherfaces":
        pca = pipeline.steps[0][1]
        config = ClassicalConfig(kind=kind, modality=modality, shape=shape, components=pca.n_components_)
        backbone = ClassicalBackbone(config)
        projection = pca.components_.T  # [F, components]
        backbone.get_layer("pca").set_weights([projection.astype(np.float32),
                                                (-pca.mean_ @ projection).astype(np.float32)])
    else:
        scaler = pipeline.steps[0][1]
        backbone = ClassicalBackbone(ClassicalConfig(kind=kind, modality=modality, shape=shape))
        layer = backbone.get_layer("scaler")
        count = np.asarray(scaler.n_samples_seen_, dtype=layer.get_weights()[2].dtype).reshape(())
        layer.set_weights([scaler.mean_.astype(np.float32), np.square(scaler.scale_).astype(np.float32), count])
    kernel, bias = model.coef_.T, model.intercept_  # [D, C] or [D, 1] with two classes
    if len(model.classes_) == 2:  # decision z: softmax([0, z]) is [1 - sigmoid(z), sigmoid(z)]
        kernel, bias = np.concatenate([np.zeros_like(kernel), kernel], axis=1), np.concatenate([[0.0], bias])
    features = keras.Input((kernel.shape[0],), name="features")
    linear = keras.layers.Dense(kernel.shape[1], activation="softmax", name="linear", dtype="float32")
    head = keras.Model(features, linear(features), name="head")
    linear.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return ContractClassifier(backbone, head, name=f"{kind}_{modality}")


def fit_classical(kind, modality, train_inputs, train_labels, seed=0):
    """(the fitted ContractClassifier on `modality` alone, its classes [P]: the training label of each of its P
    outputs, ascending): `fit_pipeline` then `classical_classifier`."""
    pipeline = fit_pipeline(kind, modality, train_inputs, train_labels, seed=seed)
    classifier = classical_classifier(kind, modality, np.shape(train_inputs)[1:], pipeline)
    return classifier, pipeline.classes_


def _check_shape(kind, inputs):
    """ValueError naming train_inputs for the wrong rank or frames smaller than the features' 16 x 16."""
    if inputs.ndim - 1 not in _RANKS[kind]:
        expected = {"mfcc_lr": "[N, frames, n_mels] log-mel", "sequence_lr": "[N, T, D] feature sequences"}.get(
            kind, "[N, H, W, C] frames or [N, T, H, W, C] frame sequences")
        raise ValueError(f"train_inputs: kind {kind!r} expects {expected}, got shape {inputs.shape}")
    if kind in _FRAME_KINDS and min(inputs.shape[-3:-1]) < IMAGE_SIZE:
        raise ValueError(f"train_inputs: frames of {inputs.shape[-3]} x {inputs.shape[-2]} are smaller than "
                         f"{IMAGE_SIZE} x {IMAGE_SIZE} (AreaResize only shrinks)")
