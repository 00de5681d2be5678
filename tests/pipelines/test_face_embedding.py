"""dlib's face embedding (pipelines.face_embedding): needs the `faces` extra, except the missing-extra tests."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipelines import face_embedding
from pipelines.face_embedding import EMBEDDING_SIZE, FaceEmbedder, model_files
from pipelines.image import read_frame

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"  # two people, two photos each (README.md)


@pytest.fixture(scope="module")
def embedder():
    return FaceEmbedder()


@pytest.fixture(scope="module")
def frames():
    return {path.stem: read_frame(path) for path in sorted(FACES.glob("person_*.jpg"))}


def test_embedding_is_128_floats_of_dlib_scale(embedder, frames):
    vector = embedder(frames["person_a_1"])
    assert vector.dtype == np.float32 and vector.shape == (EMBEDDING_SIZE,)
    assert 1.0 < np.linalg.norm(vector) < 2.0  # dlib's descriptors are not normalised: about 1.6 here


def test_same_person_is_closer_than_another(embedder, frames):
    vectors = {name: embedder(frame) for name, frame in frames.items()}
    same = [np.linalg.norm(vectors[f"person_{p}_1"] - vectors[f"person_{p}_2"]) for p in "ab"]
    other = [np.linalg.norm(vectors[f"person_a_{i}"] - vectors[f"person_b_{j}"]) for i in "12" for j in "12"]
    assert max(same) < 0.6 < min(other)  # 0.6: dlib's same-person threshold


def test_matches_dlib_called_directly(embedder, frames):
    import dlib

    image = np.round(frames["person_b_1"] * 255).astype(np.uint8)  # read_frame gives k / 255: exact
    predictor, descriptor = model_files()
    faces = dlib.get_frontal_face_detector()(image, 1)
    assert len(faces) == 1
    shape = dlib.shape_predictor(str(predictor))(image, faces[0])
    expected = np.array(dlib.face_recognition_model_v1(str(descriptor)).compute_face_descriptor(image, shape))
    np.testing.assert_allclose(embedder(frames["person_b_1"]), expected, atol=1e-6)
    np.testing.assert_allclose(embedder(image), expected, atol=1e-6)
    box = faces[0]
    assert embedder.face_box(image) == (box.left(), box.top(), box.right(), box.bottom())


def test_no_face_gives_none(embedder):
    grey = np.full((120, 160, 3), 128, np.uint8)
    assert embedder(grey) is None and embedder.face_box(grey) is None


def test_bad_frames_and_settings_are_named(embedder):
    with pytest.raises(ValueError, match="frame: expected an RGB frame"):
        embedder(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"frame: expected frame values in \[0, 1\]"):
        embedder(np.full((8, 8, 3), 2.0, np.float32))
    with pytest.raises(ValueError, match="frame: expected uint8 or float"):
        embedder(np.zeros((8, 8, 3), np.int32))
    with pytest.raises(ValueError, match="upsample"):
        FaceEmbedder(upsample=-1)
    with pytest.raises(ValueError, match="padding"):
        FaceEmbedder(padding=2.0)


def test_model_files_are_found_without_importing_their_package():
    code = ("import sys; from pipelines.face_embedding import model_files; paths = model_files(); "
            "assert all(p.is_file() for p in paths); print('face_recognition_models' in sys.modules, "
            "'pkg_resources' in sys.modules, [p.name for p in paths])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split()[:2] == ["False", "False"]
    assert "68" not in result.stdout


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib now raises ImportError
    with pytest.raises(ImportError, match=r"face embedding needs dlib: pip install -e '\.\[faces\]'"):
        FaceEmbedder()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"needs the face_recognition_models package: pip install -e '\.\[faces\]'"):
        face_embedding.model_files()


def test_the_cache_keeps_each_visible_frames_face_embedding_and_counts_the_frames_without_one(tmp_path, caplog):
    """--visible-encoder dlib: the cache holds dlib's vector of each visible frame as [1, 128] (the same as the
    embedder gives), a frame with no face leaves its recording without a visible sensor, and the log counts it;
    with frame sequences, one vector per frame."""
    import cv2
    import soundfile

    from pipelines.dataset import DataConfig, prepare
    from pipelines.features import FeatureConfig
    from pipelines.manifest import write_manifest
    from pipelines.recording import Recording

    rng = np.random.default_rng(0)
    greys = [tmp_path / f"grey{level}.png" for level in (100, 150)]  # frames without a face
    for level, grey in zip((100, 150), greys):
        cv2.imwrite(str(grey), np.full((120, 100, 3), level, np.uint8))
    recordings = []
    for index, path in enumerate([*sorted(FACES.glob("person_*.jpg")), *greys]):
        wav = tmp_path / f"r{index}.wav"
        soundfile.write(wav, (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
        person = path.stem.split("_")[1] if path not in greys else "ab"[index % 2]
        recordings.append(Recording(f"r{index}", person, audio=str(wav), visible=str(path)))
    manifest = write_manifest(recordings, tmp_path / "faces.csv")
    features = FeatureConfig(sample_rate=16000, audio_samples=4000, n_mels=16, n_fft=512, hop_length=256,
                             visible_encoder="dlib")
    with caplog.at_level("WARNING"):
        data = prepare(DataConfig(source=str(manifest), modalities=("audio", "visible"), protocol="strict",
                                  cache_dir=str(tmp_path / "cache"), features=features))
    assert data.shapes["visible"] == (1, EMBEDDING_SIZE)
    faces = {recording: bool(bits[1]) for recording, bits in zip(data.recordings, data.recorded)}
    assert faces == {"r0": True, "r1": True, "r2": True, "r3": True, "r4": False, "r5": False}
    assert "no face in the visible frame of 2 of 6 recordings" in caplog.text
    inputs, _ = data.modality_arrays("visible", "train")
    embedder = FaceEmbedder()
    expected = {tuple(np.round(embedder(read_frame(path)), 4)) for path in sorted(FACES.glob("person_*.jpg"))}
    assert len(inputs) and all(tuple(np.round(vector[0], 4)) in expected for vector in inputs)
    assert FeatureConfig(visible_encoder="dlib", frames=4).shapes(("visible",)) == {"visible": (4, EMBEDDING_SIZE)}
