"""The exported model's raw-input signature against the training pipeline on the same files (the registry's
"avtnet" run: three sensors, colour-mapped thermal frames; and its "sa_fusion" run: MFCCs and 15-frame video
sequences): log-mel within 0.05 dB, frames within 1/255, the person embedding of every sensor subset at cosine
>= 0.999 and the labels equal; also for a broadcast WAV and a 16-bit TIFF made from the AVTNet run's files."""

import struct

import cv2
import keras
import numpy as np
import pytest
import soundfile
import tensorflow as tf

from avtfuse.contract import condition_name
from avtfuse.export import FEATURES_FILE
from avtfuse.recognition.recognizer import Recognizer
from avtfuse.serving.raw_audio import audio_features
from avtfuse.serving.raw_frames import thermal_frames, visible_frames
from avtfuse.serving.raw_signature import RAW_SIGNATURE_NAME, raw_input_reason
from pipelines import cache, features, image
from pipelines.recording import Recording

DB_TOLERANCE = 0.05
LEVEL = 1 / 255


@pytest.fixture(scope="module")
def served(registry):
    run = registry.run("avtnet")
    data = run.data()
    classifier = keras.models.load_model(run.run_dir / "classifier.keras")
    stored = {int(example["index"]): example for example in cache.read_cache(data.cache_path).as_numpy_iterator()}
    complete = [row for row in range(len(data.recordings)) if data.recorded[row].all()]
    rows = complete[::max(1, len(complete) // 6)][:6]
    return data, Recognizer(run.saved_model), classifier, stored, rows


def front_end(recognizer, decoded):
    """The raw signature's model inputs of one decoded recording (its front ends alone)."""
    config = recognizer.features
    waveform = decoded["audio"][None]
    return {"audio": audio_features(tf.constant(waveform), tf.constant([waveform.shape[1]], tf.int32), config)[0],
            "visible": visible_frames(tf.constant(decoded["visible"][None]), config)[0],
            "thermal": thermal_frames(tf.constant(decoded["thermal"][None]), config, config.thermal_palette)[0][0]}


def assert_same_inputs(raw, expected):
    np.testing.assert_allclose(raw["audio"], expected["audio"], atol=DB_TOLERANCE, rtol=0)
    for camera in ("visible", "thermal"):
        np.testing.assert_allclose(raw[camera], expected[camera], atol=LEVEL + 1e-6, rtol=0)


def assert_same_answers(recognizer, classifier, decoded, inputs):
    """Every subset of the recording's sensors: the raw signature's person embedding and label against the Keras
    classifier on the pipeline's `inputs` (one example, values as the cache gives them)."""
    answered = recognizer.embed(decoded)
    modalities = recognizer.modalities
    for name, embedding in answered["embeddings"].items():
        present = np.array([[float(m in recognizer.subsets[name]) for m in modalities]], np.float32)
        batch = {m: tf.constant(inputs[m][None] * present[0, i]) for i, m in enumerate(modalities)}
        outputs = classifier.backbone(dict(batch, present=tf.constant(present)), training=False)
        expected = np.asarray(next(iter(classifier.backbone.embeddings(outputs).values())))[0]
        cosine = embedding @ expected / np.linalg.norm(embedding) / np.linalg.norm(expected)
        assert cosine >= 0.999, (name, cosine)
        if name == answered["held"]:
            label = int(np.argmax(classifier(dict(batch, present=tf.constant(present)), training=False)[0]))
            assert answered["label"] == label


def test_the_raw_signature_serves_media_as_the_pipeline_decodes_them(served):
    data, recognizer, classifier, stored, rows = served
    assert raw_input_reason(classifier, data.config.features) is None
    assert (recognizer.folder / FEATURES_FILE).exists() and recognizer.features == data.config.features
    assert data.config.features.thermal_palette != "grey"  # colour-mapped frames: palette inversion in the graph
    for row in rows:
        files = data.files[row]
        decoded = recognizer.decode(files)
        assert decoded["thermal"].shape[2] == 3
        expected = {m: stored[row][m] for m in data.modalities}  # what training and evaluation read
        assert_same_inputs(front_end(recognizer, decoded), expected)
        assert_same_answers(recognizer, classifier, decoded, expected)


def test_a_missing_sensor_is_blanked_whatever_is_sent(served):
    data, recognizer, _, _, rows = served
    decoded = recognizer.decode(data.files[rows[0]])
    raw = tf.saved_model.load(str(recognizer.folder)).signatures[RAW_SIGNATURE_NAME]
    present = tf.constant([[1.0, 0.0, 1.0]])
    got = {}
    for visible in (decoded["visible"], np.full((7, 5, 3), 255, np.uint8)):
        got[visible.shape] = raw(audio=tf.constant(decoded["audio"][None]),
                                 audio_length=tf.constant([len(decoded["audio"])], tf.int32),
                                 visible=tf.constant(visible[None]), thermal=tf.constant(decoded["thermal"][None]),
                                 present=present)["person_embedding"].numpy()
    first, second = got.values()
    np.testing.assert_allclose(first, second, atol=1e-6)


def broadcast_wav(source, target):
    """`source` rewritten as a 24-bit broadcast WAV: a `bext` chunk (602 bytes) before its `data` chunk."""
    samples, rate = soundfile.read(source, dtype="float32")
    soundfile.write(target, samples, rate, subtype="PCM_24")
    raw = target.read_bytes()
    at = raw.index(b"data")
    bext = b"bext" + struct.pack("<I", 602) + bytes(602)
    raw = raw[:at] + bext + raw[at:]
    target.write_bytes(raw[:4] + struct.pack("<I", len(raw) - 8) + raw[8:])
    return target


def test_a_broadcast_wav_and_a_16_bit_tiff_serve_as_the_pipeline_decodes_them(served, tmp_path):
    data, recognizer, classifier, _, rows = served
    files = data.files[rows[1]]
    config = recognizer.features
    heat = image.load_thermal(files["thermal"], (40, 56), config.thermal_palette)[..., 0]  # 40 x 56 heat in [0, 1]
    tiff = tmp_path / "thermal16.tiff"
    assert cv2.imwrite(str(tiff), np.round(heat * 65535).astype(np.uint16))
    wav = broadcast_wav(files["audio"], tmp_path / "bwf.wav")
    assert b"bext" in wav.read_bytes()[:2000]
    recording = Recording("r", "p", audio=str(wav), visible=files["visible"], thermal=str(tiff))
    decoded_by_pipeline = features.decode_recording(recording, data.modalities, config, config.shapes(data.modalities))
    expected = {"audio": features.audio_features(decoded_by_pipeline["audio"][None], config)[0].numpy(),
                **{m: image.to_uint8(decoded_by_pipeline[m]) / np.float32(255) for m in ("visible", "thermal")}}
    decoded = recognizer.decode({"audio": str(wav), "visible": files["visible"], "thermal": str(tiff)})
    assert decoded["thermal"].shape[2] == 1 and decoded["thermal"].dtype == np.uint8
    assert_same_inputs(front_end(recognizer, decoded), expected)
    assert_same_answers(recognizer, classifier, decoded, expected)
    assert condition_name([1, 1, 1], data.modalities) == recognizer.embed(decoded)["held"]


def test_a_model_of_frame_sequences_serves_video_as_the_pipeline_decodes_it(registry):
    run = registry.run("sa_fusion")
    data = run.data()
    config = data.config.features
    assert config.frames and config.audio_features == "mfcc"
    classifier = keras.models.load_model(run.run_dir / "classifier.keras")
    recognizer = Recognizer(run.saved_model)
    stored = {int(example["index"]): example for example in cache.read_cache(data.cache_path).as_numpy_iterator()}
    for row in [r for r in range(len(data.recordings)) if data.recorded[r].all()][:3]:
        decoded = recognizer.decode(data.files[row])
        assert decoded["visible"].shape[0] == config.frames  # the T frames the reader samples, at their own size
        waveform = decoded["audio"][None]
        raw = {"audio": audio_features(tf.constant(waveform), tf.constant([waveform.shape[1]], tf.int32),
                                       config)[0],
               "visible": visible_frames(tf.constant(decoded["visible"]), config)}  # the T frames as a batch
        expected = {m: stored[row][m] for m in data.modalities}
        np.testing.assert_allclose(raw["audio"], expected["audio"], atol=DB_TOLERANCE, rtol=0)
        np.testing.assert_allclose(raw["visible"], expected["visible"], atol=LEVEL + 1e-6, rtol=0)
        assert_same_answers(recognizer, classifier, decoded, expected)  # the fused model (label: complete only)
