import os
import pathlib
import subprocess
import sys

import cv2
import librosa
import numpy as np
import pytest
import soundfile

from pipelines import palettes
from pipelines.synthetic import speakingfaces as synthetic

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = dict(subjects=(1, 2, 3), trials=(1,), positions=(1, 2), commands=(1, 2), frames_per_recording=2,
            image_size=32, audio_seconds=1.6)


def _tree_bytes(root):
    root = pathlib.Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return root, synthetic.write_speakingfaces(root, seed=0, **TINY)


def test_layout_and_file_formats(tiny):
    root, written = tiny
    assert len(written) == 3 * 1 * 2 * 2
    expected = set()
    for s in TINY["subjects"]:
        folder = f"train_data/sub_{s}/trial_1"
        for p in TINY["positions"]:
            for c in TINY["commands"]:
                expected.add(f"{folder}/mic1_audio_cmd_trim/{s}_1_2_{p}_{c}_1.wav")
                for f in (1, 2):
                    expected.add(f"{folder}/rgb_image_cmd_aligned/{s}_1_2_{p}_{c}_{f}_3.png")
                    expected.add(f"{folder}/thr_image_cmd/{s}_1_2_{p}_{c}_{f}_1.png")
    assert set(_tree_bytes(root)) == expected
    returned = {os.path.relpath(path, root) for r in written for path in (r.audio, *r.visible, *r.thermal)}
    assert returned == expected

    iron_bgr = palettes.colour_map(np.arange(256, dtype=np.uint8), "iron")[:, ::-1]
    palette = {tuple(c) for c in iron_bgr}
    for record in written:
        info = soundfile.info(record.audio)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (44100, 1, "PCM_16", "WAV")
        assert info.frames == round(1.6 * 44100)
        for path in (*record.visible, *record.thermal):
            image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            assert image.dtype == np.uint8 and image.shape == (32, 32, 3), path
        thermal = cv2.imread(record.thermal[0], cv2.IMREAD_UNCHANGED)
        assert {tuple(c) for c in thermal.reshape(-1, 3)} <= palette  # a pure iron colour map, as the real set's


def test_speech_fits_in_the_first_one_and_a_half_seconds(tmp_path):
    written = synthetic.write_speakingfaces(tmp_path, subjects=(1, 2), trials=(1,), positions=(1,),
                                            commands=(1, 2), frames_per_recording=1, image_size=16,
                                            audio_seconds=2.5)
    for record in written:
        wave, sr = soundfile.read(record.audio)
        speech = np.sqrt(np.mean(wave[: int(1.45 * sr)] ** 2))
        tail = np.sqrt(np.mean(wave[int(1.5 * sr):] ** 2))
        assert tail < 0.3 * speech, record.audio


def test_same_seed_same_bytes_other_seed_other_bytes(tiny, tmp_path):
    root, _ = tiny
    synthetic.write_speakingfaces(tmp_path / "again", seed=0, **TINY)
    synthetic.write_speakingfaces(tmp_path / "other", seed=1, **TINY)
    first, again, other = _tree_bytes(root), _tree_bytes(tmp_path / "again"), _tree_bytes(tmp_path / "other")
    assert again == first
    assert set(other) == set(first)
    assert all(other[name] != first[name] for name in first)


def test_a_person_does_not_depend_on_the_other_subjects(tiny, tmp_path):
    root, _ = tiny
    alone = dict(TINY, subjects=(2,))
    synthetic.write_speakingfaces(tmp_path, seed=0, **alone)
    together = {k: v for k, v in _tree_bytes(root).items() if k.startswith("train_data/sub_2/")}
    assert _tree_bytes(tmp_path) == together


def test_cli_writes_the_same_tree(tiny, tmp_path):
    root, _ = tiny
    out = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.synthetic.speakingfaces", str(out), "--subjects", "3", "--trials", "1",
         "--positions", "2", "--commands", "2", "--frames", "2", "--image-size", "32", "--seed", "0"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 12 recordings of 3 people" in result.stdout
    assert _tree_bytes(out) == _tree_bytes(root)


def test_cli_split_folder_and_bad_flags(tmp_path):
    synthetic.main([str(tmp_path), "--subjects", "1", "--trials", "1", "--positions", "1", "--commands", "1",
                    "--frames", "1", "--image-size", "16", "--split", "valid"])
    assert sorted(os.listdir(tmp_path)) == ["valid_data"]
    with pytest.raises(SystemExit):
        synthetic.main([str(tmp_path), "--identity-strength", "1,2"])


def _features(record):
    """Per-recording identity cues: mean log-mel spectrum, mean RGB, coarse gray thermal image."""
    wave, sr = soundfile.read(record.audio, dtype="float32")
    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=wave[: int(1.5 * sr)], sr=sr, n_fft=2048,
                                                             hop_length=512, n_mels=64))
    voiced = mel[:, mel.max(axis=0) > mel.max() - 30]  # frames with speech
    rgb = cv2.cvtColor(cv2.imread(record.visible[0]), cv2.COLOR_BGR2RGB) / 255.0
    thermal = cv2.cvtColor(cv2.imread(record.thermal[0]), cv2.COLOR_BGR2GRAY) / 255.0
    return {
        "audio": voiced.mean(axis=1),
        "visible": rgb[8:24, 8:24].reshape(-1, 3).mean(axis=0),  # face colours
        "thermal": cv2.resize(thermal, (4, 4), interpolation=cv2.INTER_AREA).ravel(),
    }


@pytest.mark.parametrize("modality", ["audio", "visible", "thermal"])
def test_recordings_of_one_person_are_closer_than_of_two(tiny, modality):
    _, written = tiny
    features = np.array([_features(r)[modality] for r in written])
    people = np.array([r.subject for r in written])
    distances = np.linalg.norm(features[:, None] - features[None], axis=-1)
    same = people[:, None] == people[None]
    off_diagonal = ~np.eye(len(people), dtype=bool)
    # Without identity (identity_strength 0) this ratio is about 1; with the defaults 0.6-0.8.
    assert distances[same & off_diagonal].mean() < 0.9 * distances[~same].mean()


def test_lookalike_partners_differ_only_in_their_telling_modality():
    people = {s: synthetic._person(0, s, synthetic.IDENTITY_STRENGTH, 0.95) for s in (1, 2, 4)}
    assert synthetic.telling_modality(1) == synthetic.telling_modality(4) == "audio"

    def gap(a, b, modality):
        """Distance between two people's attributes, in units of each attribute's half range."""
        return sum(abs(people[a][modality][name] - people[b][modality][name]) / half
                   for name, (_, half) in synthetic.ATTRIBUTES[modality].items())

    for shared in ("visible", "thermal"):
        assert gap(1, 4, shared) < 0.25 * gap(1, 2, shared)
        assert gap(1, 4, "audio") > 4 * gap(1, 4, shared)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(split="dev"), "split"),
        (dict(subjects=[0]), "subjects"),
        (dict(commands=[]), "commands"),
        (dict(trials=[1, 1]), "trials"),
        (dict(image_size=8), "image_size"),
        (dict(identity_strength={"depth": 1.0}), "identity_strength"),
        (dict(nuisance_strength={"audio": -1.0}), "nuisance_strength"),
        (dict(seed=-1), "seed"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic.write_speakingfaces(tmp_path, **kwargs)


def test_words_belong_to_the_command_and_speech_to_the_voice():
    from pipelines.synthetic import voice as synthetic_voice

    words = synthetic_voice.syllables(np.random.default_rng([0, 5, 1]))
    assert words == synthetic_voice.syllables(np.random.default_rng([0, 5, 1]))
    voices = [synthetic._person(0, s, synthetic.IDENTITY_STRENGTH, 0.0)["audio"] for s in (1, 2)]
    clips = [synthetic_voice.speech(v, words, np.random.default_rng(7), 0.0, 44100) for v in voices]
    assert all(c.shape == (44100,) and np.abs(c).max() <= 1.0 for c in clips)
    assert not np.allclose(clips[0], clips[1])


def test_frames_have_the_promised_shapes(tmp_path):
    from pipelines.synthetic import images as synthetic_images

    rng = np.random.default_rng(0)
    person = synthetic._person(0, 1, synthetic.IDENTITY_STRENGTH, 0.95)
    scene = synthetic._scene(rng, synthetic._camera_position(0, 1), synthetic.NUISANCE_STRENGTH)
    pose = synthetic._frame_pose(rng, scene)
    face = synthetic_images.face_image(person["visible"], scene, pose, rng, 32, 0.75)
    heat = synthetic_images.heat_image(person["thermal"], scene, pose, rng, 32, 0.7)
    assert face.shape == (32, 32, 3) and face.dtype == np.uint8
    assert heat.shape == (32, 32) and heat.dtype == np.uint8 and heat.std() > 0
    synthetic_images.write_png(str(tmp_path / "f.png"), face)
    assert cv2.imread(str(tmp_path / "f.png")).shape == (32, 32, 3)
