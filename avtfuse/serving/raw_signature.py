"""The raw-input signature of an exported model ("serving_raw"): media in, the serving outputs out.

Inputs, by name (only the run's modalities, then "present" float32 [B, M], 1 real / 0 missing, canonical order):
  - "audio" float32 [B, N]: waveforms at the model's sample rate (FeatureConfig.sample_rate, Hz), each row's
    samples first, anything after its length ignored; "audio_length" int32 [B]: each row's samples.
  - "visible" uint8 [B, H, W, 3]: RGB frames of any size (a grey frame as three equal channels); for a model of
    frame sequences (FeatureConfig.frames = T > 0, SA-fusion) [B, T, H, W, 3], the T frames the pipeline's reader
    samples (`pipelines.image.read_frames`).
  - "thermal" uint8 [B, H, W, C] (or [B, T, H, W, C]): C = 1 the heat itself, C = 3 colour-mapped through the
    run's palette.
Inside the graph, as the pipeline does (avtfuse.serving.raw_audio, raw_frames): silence trimming and the crop,
the log-mel spectrogram or MFCCs, the frame crop and resize, palette inversion, the cache's 8-bit levels, then
`ContractClassifier.serve`. Outputs: serve's ("probabilities", "label", "embedding", "person_embedding") and,
with thermal, "thermal_palette_fit" float32 [B] (mean RGB distance of a colour frame to the palette; a frame
above pipelines.palettes.MAX_MEAN_DISTANCE was not written with it).

Systems that read per-step masks (MCT-HFR, CFN-SR: their sequences carry padding) or pre-extracted `.npy` features
get no raw signature (`raw_input_reason` says why); they serve features only.
"""

import tensorflow as tf

from avtfuse.serving.raw_audio import audio_features
from avtfuse.serving.raw_frames import thermal_frames, visible_frames

RAW_SIGNATURE_NAME = "serving_raw"
PALETTE_FIT = "thermal_palette_fit"


def raw_input_reason(classifier, features):
    """None when `classifier` (a ContractClassifier) can serve raw media decoded by `features` (a FeatureConfig);
    else why not, in one line."""
    spec = classifier.serving_spec()
    extra = sorted(set(spec) - {*classifier.modalities, "present"})
    if extra:
        return f"the model reads per-step inputs {extra} (padded sequences): it serves features only"
    expected = features.shapes(classifier.modalities)
    for modality in classifier.modalities:
        if tuple(spec[modality][0][1:]) != tuple(expected[modality]):
            return (f"the model reads {modality} of shape {list(spec[modality][0][1:])}, not the "
                    f"{list(expected[modality])} its media give (pre-extracted features?): it serves features only")
    return None


def raw_input_signature(modalities, frames=0):
    """{input name: tf.TensorSpec} of the raw signature for `modalities` (canonical order); `frames` T > 0 for a
    model of frame sequences."""
    time = [frames] if frames else []
    specs = {}
    if "audio" in modalities:
        specs["audio"] = tf.TensorSpec([None, None], tf.float32, name="audio")
        specs["audio_length"] = tf.TensorSpec([None], tf.int32, name="audio_length")
    if "visible" in modalities:
        specs["visible"] = tf.TensorSpec([None, *time, None, None, 3], tf.uint8, name="visible")
    if "thermal" in modalities:
        specs["thermal"] = tf.TensorSpec([None, *time, None, None, None], tf.uint8, name="thermal")
    specs["present"] = tf.TensorSpec([None, len(modalities)], tf.float32, name="present")
    return specs


class RawServing:
    """Callable of the raw signature: inputs dict (`raw_input_signature`) -> serving outputs (module docstring).

    classifier: a ContractClassifier for which `raw_input_reason` is None; features: the FeatureConfig its run's
    cache was decoded with (its thermal palette settled, not "auto").
    """

    def __init__(self, classifier, features):
        reason = raw_input_reason(classifier, features)
        if reason is not None:
            raise ValueError(f"raw-input serving: {reason}")
        if "thermal" in classifier.modalities and features.thermal_palette == "auto":
            raise ValueError("raw-input serving: the thermal palette must be settled (not 'auto') before export")
        self.classifier, self.features = classifier, features

    def __call__(self, inputs):
        modalities, features = self.classifier.modalities, self.features
        model_inputs = {"present": inputs["present"]}
        if "audio" in modalities:
            model_inputs["audio"] = audio_features(inputs["audio"], inputs["audio_length"], features)
        if "visible" in modalities:
            model_inputs["visible"] = _per_frame(lambda frames: visible_frames(frames, features), inputs["visible"],
                                                 features.frames)
        if "thermal" in modalities:
            heat = _per_frame(lambda frames: thermal_frames(frames, features, features.thermal_palette),
                              inputs["thermal"], features.frames)
            model_inputs["thermal"] = heat[0]
        outputs = dict(self.classifier.serve(model_inputs))
        if "thermal" in modalities:
            outputs[PALETTE_FIT] = heat[1] if not features.frames else tf.reduce_mean(heat[1], axis=1)
        return outputs


def _per_frame(front_end, frames, count):
    """front_end over uint8 [B, H, W, C] frames, or over [B, T, H, W, C] sequences (count = T > 0) taken as
    B x T frames, its outputs given back with the sequence axis ([B, T, ...])."""
    if not count:
        return front_end(frames)
    shape = tf.shape(frames)
    outputs = front_end(tf.reshape(frames, tf.concat([[shape[0] * count], shape[2:]], 0)))
    return tf.nest.map_structure(
        lambda value: tf.reshape(value, tf.concat([[shape[0], count], tf.shape(value)[1:]], 0)), outputs)
