"""Writes a small synthetic data set in the real SpeakingFaces layout.

Each person has a voice (pitch, vocal-tract length, glottal tilt, breathiness,
a timbre resonance), a face (head shape, eye/nose/mouth placement, skin, hair
and clothes colours) and a heat pattern (forehead, cheek, nose, eye-corner,
mouth and neck temperatures, hairline) of their own. Every recording varies
what a real session varies: camera position (shift, scale, small rotation),
lighting (brightness, colour cast, shading), background clutter, audio noise,
microphone colouring, speaking rate and the words (the syllable sequence is
set by the command, never by the person).

People come in look-alike pairs that only one modality tells apart: the
telling modality of person S is (S - 1) % 3 (audio, visible, thermal), and in
the two other modalities S shares most of their identity with their partner
(1 & 4 and 7 & 10 differ only by voice; 2 & 5 and 8 & 11 only by face; 3 & 6
and 9 & 12 only by heat pattern). So every modality alone confuses some
people, losing any one sensor costs the pairs it told apart, and only all
three together tell everybody apart.

Files (session 2, "cmd" recordings), for subject S, trial T, position P,
command C and frame F:

    <root>/<split>_data/sub_S/trial_T/mic1_audio_cmd_trim/S_T_2_P_C_1.wav
    <root>/<split>_data/sub_S/trial_T/rgb_image_cmd_aligned/S_T_2_P_C_F_3.png
    <root>/<split>_data/sub_S/trial_T/thr_image_cmd/S_T_2_P_C_F_1.png

wav: 44.1 kHz, 16-bit PCM, mono. rgb png: 8-bit, 3 channels. thermal png:
8-bit, 3 channels, a gray heat map colour-mapped with cv2.COLORMAP_INFERNO.

Shell: python -m pipelines.synthetic OUT_DIR [--subjects N] [--seed S] ...
"""

import argparse
import dataclasses
import os

import cv2
import numpy as np
import soundfile
from scipy import signal

from avtfuse.modalities import MODALITIES

SAMPLE_RATE = 44100
SESSION = 2
SPLITS = ("train", "valid", "test")

DEFAULT_SUBJECTS = tuple(range(1, 13))
DEFAULT_TRIALS = (1, 2)
DEFAULT_POSITIONS = (1, 2, 3)
DEFAULT_COMMANDS = (1, 2, 3, 4)
DEFAULT_IMAGE_SIZE = 64
DEFAULT_AUDIO_SECONDS = 1.6
SPEECH_END_SECONDS = 1.45  # speech always ends before this time (pipelines crop from the start)

# Tuning knobs. Identity strength scales how far people sit from the average
# person in that modality (0: everyone alike); nuisance strength scales how much
# recordings of one person differ (0: every recording of a person is alike).
# Measured accuracies of AVTNet on the default set are in the README.
IDENTITY_STRENGTH = {"audio": 1.0, "visible": 1.0, "thermal": 1.0}
NUISANCE_STRENGTH = {"audio": 0.6, "visible": 0.75, "thermal": 0.7}
# Camera positions: head shift (fraction of the image), log scale and rotation
# (degrees) range over positions, before the nuisance strength scales them.
CAMERA_SHIFT = 0.06
CAMERA_LOG_SCALE = 0.08
CAMERA_ANGLE = 6.0
# How much identity look-alike partners share outside their telling modality (0..1).
LOOKALIKE_SIMILARITY = 0.95

# Identity attributes per modality: name -> (centre, half range at strength 1).
VOICE_ATTRIBUTES = {
    "log2_f0": (np.log2(150.0), 0.8),  # pitch, octaves around 150 Hz
    "tract_scale": (1.0, 0.18),  # formant frequencies x this (vocal-tract length)
    "glottal_pole": (0.8, 0.12),  # source low-pass pole: higher = darker voice
    "breathiness": (0.12, 0.08),  # aspiration noise relative to the voiced source
    "bandwidth_scale": (1.0, 0.4),  # formant bandwidths x this
    "timbre_hz": (3400.0, 1200.0),  # an extra resonance peak (voice quality)
    "timbre_gain": (0.5, 0.33),  # how strong that peak is
}
FACE_ATTRIBUTES = {
    "head_width": (0.34, 0.07),  # half-width of the head, fraction of the image
    "head_aspect": (1.3, 0.2),  # head height / width
    "eye_spacing": (0.42, 0.12),  # eye distance from the centre line, fraction of head width
    "eye_height": (-0.1, 0.12),  # eye line, fraction of head height above (-) the centre
    "eye_size": (0.1, 0.05),  # eye radius, fraction of head width
    "nose_length": (0.25, 0.1),  # fraction of head height
    "mouth_width": (0.38, 0.14),  # fraction of head width
    "mouth_height": (0.45, 0.1),  # mouth line below the centre, fraction of head height
    "skin_tone": (0.0, 1.0),  # light (-1) to dark (+1)
    "skin_warmth": (0.0, 1.0),  # pink (-1) to yellow (+1)
    "hair_lightness": (0.0, 1.0),  # black (-1) to blond (+1)
    "hair_volume": (0.5, 0.5),  # bald (0) to a thick crown (1)
    "clothes_hue": (0.5, 0.5),  # 0..1 around the colour wheel
    "clothes_lightness": (0.5, 0.35),
}
HEAT_ATTRIBUTES = {
    "face_temp": (0.62, 0.12),  # base skin temperature on the 0..1 sensor scale
    "forehead": (0.1, 0.15),  # forehead warmth relative to the face
    "cheeks": (0.0, 0.18),  # cheek warmth relative to the face
    "cheek_spread": (0.17, 0.08),  # cheek hot-spot size, fraction of head width
    "nose": (-0.12, 0.18),  # nose temperature relative to the face (usually cold)
    "eye_corners": (0.22, 0.15),  # inner eye corners (the hottest point)
    "mouth": (0.05, 0.15),  # lips and breath
    "neck": (0.0, 0.2),  # neck warmth relative to the face
    "hairline": (0.35, 0.25),  # cold hair cap down to this fraction of head height
    "head_width": (0.33, 0.06),  # head outline as the thermal camera sees it
    "head_aspect": (1.3, 0.15),
}
ATTRIBUTES = {"audio": VOICE_ATTRIBUTES, "visible": FACE_ATTRIBUTES, "thermal": HEAT_ATTRIBUTES}

# Vowel formants F1, F2, F3 (Hz) of an average adult voice.
VOWELS = np.array(
    [[270, 2290, 3010], [530, 1840, 2480], [730, 1090, 2440], [570, 840, 2410],
     [300, 870, 2240], [660, 1720, 2410], [490, 1350, 1690]],
    dtype=float,
)
# Consonants: none, "s", "sh", plosive burst, nasal murmur.
CONSONANTS = ("", "s", "sh", "p", "m")

# Random-stream tags, so that every part draws from its own stream.
_PERSON, _LOOKALIKE, _POSITION, _RECORDING, _COMMAND, _FRAME = range(1, 7)


@dataclasses.dataclass(frozen=True)
class SyntheticRecording:
    """One written recording: its key and the files written for it."""

    subject: int
    trial: int
    position: int
    command: int
    audio: str
    visible: tuple
    thermal: tuple


def write_speakingfaces(
    root,
    subjects=DEFAULT_SUBJECTS,
    trials=DEFAULT_TRIALS,
    positions=DEFAULT_POSITIONS,
    commands=DEFAULT_COMMANDS,
    seed=0,
    frames_per_recording=3,
    image_size=DEFAULT_IMAGE_SIZE,
    audio_seconds=DEFAULT_AUDIO_SECONDS,
    split="train",
    identity_strength=None,
    nuisance_strength=None,
    lookalike_similarity=LOOKALIKE_SIMILARITY,
):
    """Writes one recording per (subject, trial, position, command) under `root`.

    subjects, trials, positions, commands: 1-based ints. image_size: side of
    the square pngs in pixels. audio_seconds: wav length (speech ends by
    1.45 s). identity_strength / nuisance_strength: dicts {modality: float}
    that override IDENTITY_STRENGTH / NUISANCE_STRENGTH for some modalities.
    The same arguments always write the same bytes; a person looks and sounds
    the same whatever other subjects are written. Returns the list of
    SyntheticRecording written, in loop order.
    """
    subjects = _ids("subjects", subjects)
    trials = _ids("trials", trials)
    positions = _ids("positions", positions)
    commands = _ids("commands", commands)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: must be a non-negative int, got {seed!r}")
    if not isinstance(frames_per_recording, (int, np.integer)) or frames_per_recording < 1:
        raise ValueError(f"frames_per_recording: must be an int >= 1, got {frames_per_recording!r}")
    if not isinstance(image_size, (int, np.integer)) or image_size < 16:
        raise ValueError(f"image_size: must be an int >= 16 pixels, got {image_size!r}")
    if not 0.5 <= audio_seconds <= 30:
        raise ValueError(f"audio_seconds: must be between 0.5 and 30, got {audio_seconds!r}")
    if split not in SPLITS:
        raise ValueError(f"split: must be one of {SPLITS}, got {split!r}")
    if not 0 <= lookalike_similarity <= 1:
        raise ValueError(f"lookalike_similarity: must be in [0, 1], got {lookalike_similarity!r}")
    identity = _strengths("identity_strength", IDENTITY_STRENGTH, identity_strength)
    nuisance = _strengths("nuisance_strength", NUISANCE_STRENGTH, nuisance_strength)

    written = []
    for subject in subjects:
        person = _person(seed, subject, identity, lookalike_similarity)
        for trial in trials:
            folder = os.path.join(root, f"{split}_data", f"sub_{subject}", f"trial_{trial}")
            audio_dir = os.path.join(folder, "mic1_audio_cmd_trim")
            rgb_dir = os.path.join(folder, "rgb_image_cmd_aligned")
            thermal_dir = os.path.join(folder, "thr_image_cmd")
            for directory in (audio_dir, rgb_dir, thermal_dir):
                os.makedirs(directory, exist_ok=True)
            for position in positions:
                camera = _camera_position(seed, position)
                for command in commands:
                    stem = f"{subject}_{trial}_{SESSION}_{position}_{command}"
                    rng = _rng(seed, _RECORDING, subject, trial, position, command)
                    audio_path = os.path.join(audio_dir, f"{stem}_1.wav")
                    waveform = _speech(person["audio"], _syllables(seed, command), rng,
                                       nuisance["audio"], int(round(audio_seconds * SAMPLE_RATE)))
                    soundfile.write(audio_path, waveform, SAMPLE_RATE, subtype="PCM_16", format="WAV")
                    scene = _scene(rng, camera, nuisance)
                    rgb_paths, thermal_paths = [], []
                    for frame in range(1, frames_per_recording + 1):
                        frame_rng = _rng(seed, _FRAME, subject, trial, position, command, frame)
                        pose = _frame_pose(frame_rng, scene)
                        rgb = _face_image(person["visible"], scene, pose, frame_rng, image_size,
                                          nuisance["visible"])
                        heat = _heat_image(person["thermal"], scene, pose, frame_rng, image_size,
                                           nuisance["thermal"])
                        rgb_path = os.path.join(rgb_dir, f"{stem}_{frame}_3.png")
                        thermal_path = os.path.join(thermal_dir, f"{stem}_{frame}_1.png")
                        _write_png(rgb_path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                        _write_png(thermal_path, cv2.applyColorMap(heat, cv2.COLORMAP_INFERNO))
                        rgb_paths.append(rgb_path)
                        thermal_paths.append(thermal_path)
                    written.append(SyntheticRecording(subject, trial, position, command, audio_path,
                                                      tuple(rgb_paths), tuple(thermal_paths)))
    return written


def telling_modality(subject):
    """The only modality that tells `subject` (1-based) from their look-alike partner."""
    return MODALITIES[(subject - 1) % len(MODALITIES)]


# ---------------------------------------------------------------- arguments


def _ids(name, values):
    values = [values] if isinstance(values, (int, np.integer)) else list(values)
    if not values:
        raise ValueError(f"{name}: at least one is needed")
    for v in values:
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name}: every entry must be an int >= 1, got {v!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name}: repeated entries in {values}")
    return [int(v) for v in values]


def _strengths(name, defaults, overrides):
    strengths = dict(defaults)
    for modality, value in (overrides or {}).items():
        if modality not in MODALITIES:
            raise ValueError(f"{name}: unknown modality {modality!r}; choose from {list(MODALITIES)}")
        if value < 0:
            raise ValueError(f"{name}: {modality} must be >= 0, got {value!r}")
        strengths[modality] = float(value)
    return strengths


def _rng(seed, *keys):
    return np.random.default_rng([int(seed), *[int(k) for k in keys]])


# ---------------------------------------------------------------- people and sessions


def _person(seed, subject, identity, similarity):
    """Identity attributes per modality for one subject (1-based).

    Each attribute is centre + clip(strength * z, -1.5, 1.5) * half_range with
    z in [-1, 1]; outside the subject's telling modality z is mostly shared
    with a look-alike partner.
    """
    person = {}
    telling = telling_modality(subject)
    pair = ((subject - 1) // len(MODALITIES)) // 2
    for index, modality in enumerate(MODALITIES):
        attributes = ATTRIBUTES[modality]
        z = _rng(seed, _PERSON, subject, index).uniform(-1, 1, len(attributes))
        if modality != telling:
            shared = _rng(seed, _LOOKALIKE, index, pair, MODALITIES.index(telling)).uniform(-1, 1, len(attributes))
            z = similarity * shared + (1 - similarity) * z
        person[modality] = {
            name: centre + half * float(np.clip(identity[modality] * zi, -1.5, 1.5))
            for zi, (name, (centre, half)) in zip(z, attributes.items())
        }
    return person


def _camera_position(seed, position):
    """Head offset (x, y as fractions of the image), log scale and rotation (degrees) of a camera position."""
    rng = _rng(seed, _POSITION, position)
    return {"shift": rng.uniform(-CAMERA_SHIFT, CAMERA_SHIFT, 2),
            "log_scale": rng.uniform(-CAMERA_LOG_SCALE, CAMERA_LOG_SCALE),
            "angle": rng.uniform(-CAMERA_ANGLE, CAMERA_ANGLE)}


def _scene(rng, camera, nuisance):
    """Per-recording nuisance shared by the recording's frames."""
    v, t = nuisance["visible"], nuisance["thermal"]
    return {
        "camera": camera,
        "shift": rng.normal(0, 0.03, 2),
        "log_scale": rng.normal(0, 0.04),
        "angle": rng.normal(0, 4),
        "brightness": np.exp(rng.normal(0, 0.2 * v)),
        "cast": np.exp(rng.normal(0, 0.08 * v, 3)),
        "shading": rng.normal(0, 0.25 * v, 2),
        "background": rng.uniform(40, 200, 3),
        "clutter": [(rng.uniform(0, 1, 4), rng.uniform(0, 255, 3), rng.integers(0, 2))
                    for _ in range(rng.integers(1, 5))],
        "ambient": rng.uniform(0.1, 0.3),
        "heat_gain": np.exp(rng.normal(0, 0.12 * t)),
        "heat_offset": rng.normal(0, 0.05 * t),
        "warm_objects": [(rng.uniform(0, 1, 4), rng.uniform(0.3, 0.9))
                         for _ in range(rng.integers(0, 3))],
    }


def _frame_pose(rng, scene):
    """Head placement of one frame (at nuisance strength 1): (dx, dy) as fractions of
    the image, log scale, angle in degrees; and the mouth opening 0..1."""
    camera = scene["camera"]
    return {
        "shift": camera["shift"] + scene["shift"] + rng.normal(0, 0.01, 2),
        "log_scale": camera["log_scale"] + scene["log_scale"] + rng.normal(0, 0.01),
        "angle": camera["angle"] + scene["angle"] + rng.normal(0, 1),
        "mouth_open": rng.uniform(0, 1),
    }


# ---------------------------------------------------------------- audio


def _syllables(seed, command):
    """(consonant index, vowel index, relative length) for the words of one command."""
    rng = _rng(seed, _COMMAND, command)
    count = rng.integers(3, 6)
    return [(rng.integers(len(CONSONANTS)), rng.integers(len(VOWELS)), rng.uniform(0.8, 1.2))
            for _ in range(count)]


def _speech(voice, syllables, rng, nuisance, n_samples):
    """float32 [n_samples] waveform in [-1, 1]: the voice saying `syllables` with noise."""
    sr = SAMPLE_RATE
    rate = np.exp(rng.normal(0, 0.12 * nuisance))  # > 1: slower speech
    f0 = 2 ** voice["log2_f0"] * np.exp(rng.normal(0, 0.05 * nuisance))
    onset = rng.uniform(0.03, 0.03 + 0.1 * nuisance)
    durations = np.array([0.2 * length * rate for _, _, length in syllables])
    gap = 0.04 * rate
    total = onset + durations.sum() + gap * len(syllables)
    fit = min(1.0, (min(SPEECH_END_SECONDS, n_samples / sr) - onset) / (total - onset))
    durations, gap = durations * fit, gap * fit

    out = np.zeros(n_samples)
    start = onset
    for i, ((consonant, vowel, _), duration) in enumerate(zip(syllables, durations)):
        consonant_length = 0.05 * fit * rate if CONSONANTS[consonant] else 0.0
        if consonant_length:
            burst = _consonant(CONSONANTS[consonant], voice, rng, int(consonant_length * sr))
            _add(out, burst, int(start * sr))
        declination = 1 - 0.1 * i / len(syllables)
        vowel_sound = _vowel(VOWELS[vowel], voice, f0 * declination, rng,
                             int((duration - consonant_length) * sr))
        _add(out, vowel_sound, int((start + consonant_length) * sr))
        start += duration + gap

    microphone = rng.uniform(-0.5, 0.5) * nuisance  # pre-emphasis (> 0) or muffling (< 0)
    out = signal.lfilter([1.0, -microphone], [1.0], out)
    out /= np.max(np.abs(out)) + 1e-9
    speech_power = np.mean(out[out != 0] ** 2) if np.any(out) else 1.0
    snr_db = rng.uniform(30 - 12 * nuisance, 35)
    noise = rng.normal(size=n_samples)
    noise = signal.lfilter([1.0], [1.0, -rng.uniform(0, 0.95)], noise)  # white to reddish
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10) / np.mean(noise ** 2))
    out = out + noise
    out *= rng.uniform(0.4, 0.8) / (np.max(np.abs(out)) + 1e-9)
    return out.astype(np.float32)


def _add(out, sound, start):
    end = min(len(out), start + len(sound))
    if end > start:
        out[start:end] += sound[: end - start]


def _envelope(n, attack, release):
    env = np.ones(n)
    a, r = min(n // 2, attack), min(n // 2, release)
    if a:
        env[:a] = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, a))
    if r:
        env[n - r:] = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, r))
    return env


def _resonator(x, freq, bandwidth):
    """Second-order resonance at `freq` Hz with unit gain at 0 Hz."""
    freq = min(freq, 0.45 * SAMPLE_RATE)
    r = np.exp(-np.pi * bandwidth / SAMPLE_RATE)
    a = [1.0, -2 * r * np.cos(2 * np.pi * freq / SAMPLE_RATE), r * r]
    return signal.lfilter([sum(a)], a, x)


def _vowel(formants, voice, f0, rng, n):
    """A voiced vowel of n samples: glottal pulses + aspiration through the vocal tract."""
    if n <= 0:
        return np.zeros(0)
    t = np.arange(n) / SAMPLE_RATE
    contour = f0 * (1 + 0.03 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 2 * np.pi)))
    phase = np.cumsum(contour / SAMPLE_RATE)
    pulses = np.diff(np.floor(phase), prepend=0.0)
    pole = voice["glottal_pole"]
    source = signal.lfilter([(1 - pole) ** 2], [1, -2 * pole, pole * pole], pulses)
    source /= np.std(source) + 1e-9
    source += voice["breathiness"] * rng.normal(size=n)
    scale, bw = voice["tract_scale"], voice["bandwidth_scale"]
    sound = source
    for freq, bandwidth in zip([*formants, 3500.0], [60.0, 90.0, 150.0, 200.0]):
        sound = _resonator(sound, freq * scale, bandwidth * bw)
    timbre = _resonator(source, voice["timbre_hz"] * scale, 250.0) - source
    sound = sound + voice["timbre_gain"] * timbre
    sound /= np.std(sound) + 1e-9
    return sound * _envelope(n, int(0.015 * SAMPLE_RATE), int(0.03 * SAMPLE_RATE))


def _consonant(kind, voice, rng, n):
    """An unvoiced or nasal consonant of n samples."""
    scale = voice["tract_scale"]
    noise = rng.normal(size=n)
    if kind == "s":
        sound = _resonator(noise, 6500 * scale, 2000) - _resonator(noise, 2000, 2000)
    elif kind == "sh":
        sound = _resonator(noise, 3000 * scale, 1000) - _resonator(noise, 800, 800)
    elif kind == "p":
        sound = noise * np.exp(-np.arange(n) / (0.008 * SAMPLE_RATE))
    else:  # "m": a low murmur at the voice's pitch
        sound = _vowel(np.array([250.0, 1200.0, 2300.0]), voice, 2 ** voice["log2_f0"], rng, n)
        sound = _resonator(sound, 300, 150)
    sound /= np.std(sound) + 1e-9
    return 0.4 * sound * _envelope(n, n // 4, n // 3)


# ---------------------------------------------------------------- images

_SUPERSAMPLE = 4


def _place(layer, mask, pose, size, nuisance):
    """Warps a canonical (centred) layer and its mask [size, size] to the frame pose,
    its offsets scaled by the modality's nuisance strength."""
    centre = (size / 2, size / 2)
    matrix = cv2.getRotationMatrix2D(centre, nuisance * pose["angle"], np.exp(nuisance * pose["log_scale"]))
    matrix[:, 2] += nuisance * np.asarray(pose["shift"]) * size
    layer = cv2.warpAffine(layer, matrix, (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = cv2.warpAffine(mask, matrix, (size, size), flags=cv2.INTER_LINEAR)
    return layer, mask


def _ellipse(canvas, centre, axes, value, angle=0.0):
    cv2.ellipse(canvas, (int(centre[0]), int(centre[1])), (max(1, int(axes[0])), max(1, int(axes[1]))),
                angle, 0, 360, value, -1, cv2.LINE_AA)


def _colour(hue, saturation, value):
    """RGB float [3] in 0..255 from hue, saturation, value in 0..1."""
    hsv = np.uint8([[[int(hue % 1.0 * 180) % 180, int(np.clip(saturation, 0, 1) * 255),
                      int(np.clip(value, 0, 1) * 255)]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(float)


def _face_image(face, scene, pose, rng, image_size, nuisance):
    """uint8 [image_size, image_size, 3] RGB: the face over a cluttered background, lit."""
    size = image_size * _SUPERSAMPLE
    background = np.empty((size, size, 3), np.float32)
    background[:] = scene["background"]
    for box, colour, round_shape in scene["clutter"]:
        x0, y0 = box[:2] * size
        w, h = (0.1 + 0.3 * box[2:]) * size
        if round_shape:
            _ellipse(background, (x0, y0), (w / 2, h / 2), colour.tolist())
        else:
            cv2.rectangle(background, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), colour.tolist(), -1)

    skin = np.array([225.0, 190.0, 160.0]) * (1 - 0.28 * face["skin_tone"])
    skin += np.array([0.0, 8.0, -4.0]) * face["skin_warmth"] + np.array([10.0, -6.0, 0.0]) * -face["skin_warmth"]
    hair = np.array([60.0, 45.0, 30.0]) + (1 + face["hair_lightness"]) * np.array([80.0, 70.0, 40.0])
    clothes = _colour(face["clothes_hue"], 0.6, face["clothes_lightness"])

    layer = np.zeros((size, size, 3), np.float32)
    mask = np.zeros((size, size), np.float32)
    cx, cy = size / 2, size / 2
    hw = face["head_width"] * size
    hh = hw * face["head_aspect"] / 1.3 * 1.05
    for canvas, paint in ((layer, None), (mask, 1.0)):
        body = paint if paint is not None else clothes.tolist()
        _ellipse(canvas, (cx, cy + hh + 0.5 * size), (1.6 * hw, 0.65 * size), body)
        neck = paint if paint is not None else (skin * 0.9).tolist()
        cv2.rectangle(canvas, (int(cx - 0.45 * hw), int(cy + 0.5 * hh)), (int(cx + 0.45 * hw), int(cy + 1.3 * hh)),
                      neck, -1)
        if face["hair_volume"] > 0.05:
            _ellipse(canvas, (cx, cy - 0.12 * hh),
                     (hw * (1.05 + 0.15 * face["hair_volume"]), hh * (0.9 + 0.25 * face["hair_volume"])),
                     paint if paint is not None else hair.tolist())
        _ellipse(canvas, (cx, cy), (hw, hh), paint if paint is not None else skin.tolist())
    if face["hair_volume"] > 0.05:  # fringe over the top of the face
        _ellipse(layer, (cx, cy - 0.75 * hh), (0.95 * hw, 0.25 * hh * (0.5 + face["hair_volume"])), hair.tolist())

    eye_y = cy + face["eye_height"] * hh
    eye_dx = face["eye_spacing"] * hw
    eye_r = face["eye_size"] * hw
    for side in (-1, 1):
        _ellipse(layer, (cx + side * eye_dx, eye_y), (1.5 * eye_r, eye_r), (245, 245, 245))
        _ellipse(layer, (cx + side * eye_dx, eye_y), (0.7 * eye_r, 0.7 * eye_r), (40, 30, 25))
        cv2.line(layer, (int(cx + side * (eye_dx - 1.6 * eye_r)), int(eye_y - 2.2 * eye_r)),
                 (int(cx + side * (eye_dx + 1.6 * eye_r)), int(eye_y - 2.4 * eye_r)),
                 (hair * 0.7).tolist(), max(1, int(0.5 * eye_r)), cv2.LINE_AA)
    nose_end = eye_y + face["nose_length"] * 2 * hh
    cv2.line(layer, (int(cx), int(eye_y + eye_r)), (int(cx), int(nose_end)), (skin * 0.75).tolist(),
             max(1, int(0.04 * hw)), cv2.LINE_AA)
    mouth_y = cy + face["mouth_height"] * hh
    _ellipse(layer, (cx, mouth_y), (face["mouth_width"] * hw, (0.04 + 0.1 * pose["mouth_open"]) * hw),
             (150, 50, 60))

    layer, mask = _place(layer, mask, pose, size, nuisance)
    image = background * (1 - mask[..., None]) + layer * mask[..., None]

    ys, xs = np.mgrid[0:size, 0:size] / size - 0.5
    light = scene["brightness"] * (1 + scene["shading"][0] * xs + scene["shading"][1] * ys)
    image = image * light[..., None] * scene["cast"]
    image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
    image += rng.normal(0, 4 * nuisance, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _heat_image(heat, scene, pose, rng, image_size, nuisance):
    """uint8 [image_size, image_size] gray heat map (0 cold .. 255 hot) of the head."""
    size = image_size * _SUPERSAMPLE
    temperature = np.full((size, size), scene["ambient"], np.float32)
    for box, warmth in scene["warm_objects"]:
        x0, y0 = box[:2] * size
        w, h = (0.08 + 0.2 * box[2:]) * size
        cv2.rectangle(temperature, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), float(warmth), -1)

    face = heat["face_temp"]
    layer = np.zeros((size, size), np.float32)
    mask = np.zeros((size, size), np.float32)
    cx, cy = size / 2, size / 2
    hw = heat["head_width"] * size
    hh = hw * heat["head_aspect"] / 1.3 * 1.05
    for canvas, paint in ((layer, None), (mask, 1.0)):
        _ellipse(canvas, (cx, cy + hh + 0.5 * size), (1.6 * hw, 0.65 * size),
                 paint if paint is not None else face - 0.25)  # clothes insulate
        cv2.rectangle(canvas, (int(cx - 0.45 * hw), int(cy + 0.5 * hh)), (int(cx + 0.45 * hw), int(cy + 1.3 * hh)),
                      paint if paint is not None else face + heat["neck"], -1)
        _ellipse(canvas, (cx, cy), (hw, hh), paint if paint is not None else face)
    _ellipse(layer, (cx, cy - 0.55 * hh), (0.8 * hw, 0.3 * hh), face + heat["forehead"])
    hair_bottom = cy - hh + 2 * hh * heat["hairline"] * 0.5
    cv2.rectangle(layer, (0, 0), (size, int(hair_bottom)), face - 0.3, -1)
    layer = np.where(mask > 0, layer, 0).astype(np.float32)
    for side in (-1, 1):
        _ellipse(layer, (cx + side * 0.5 * hw, cy + 0.2 * hh), (heat["cheek_spread"] * hw * 1.4,) * 2,
                 face + heat["cheeks"])
        _ellipse(layer, (cx + side * 0.18 * hw, cy - 0.1 * hh), (0.09 * hw, 0.07 * hw), face + heat["eye_corners"])
    _ellipse(layer, (cx, cy + 0.15 * hh), (0.12 * hw, 0.2 * hh), face + heat["nose"])
    _ellipse(layer, (cx, cy + 0.5 * hh), (0.3 * hw, (0.06 + 0.06 * pose["mouth_open"]) * hw),
             face + heat["mouth"])
    layer = cv2.GaussianBlur(layer, (0, 0), 0.04 * size)  # heat spreads

    layer, mask = _place(layer, mask, pose, size, nuisance)
    temperature = temperature * (1 - mask) + layer * mask
    temperature = (temperature - 0.5) * scene["heat_gain"] + 0.5 + scene["heat_offset"]
    temperature = cv2.resize(temperature, (image_size, image_size), interpolation=cv2.INTER_AREA)
    temperature += rng.normal(0, 0.015 * nuisance, temperature.shape)
    return np.clip(np.round(temperature * 255), 0, 255).astype(np.uint8)


def _write_png(path, image):
    if not cv2.imwrite(path, image):
        raise OSError(f"{path}: could not write the png")


# ---------------------------------------------------------------- shell


def _strength_triplet(name):
    def parse(text):
        values = [float(v) for v in text.split(",")]
        if len(values) != len(MODALITIES) or min(values) < 0:
            raise argparse.ArgumentTypeError(f"{name}: give three non-negative numbers a,v,t; got {text!r}")
        return dict(zip(MODALITIES, values))

    return parse


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.synthetic",
        description="Write a small synthetic data set in the SpeakingFaces layout "
                    "(<OUT_DIR>/<split>_data/sub_S/trial_T/...).",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to write into (created if missing)")
    parser.add_argument("--subjects", type=int, default=len(DEFAULT_SUBJECTS),
                        help="number of people, numbered 1..N (default %(default)s)")
    parser.add_argument("--trials", type=int, default=len(DEFAULT_TRIALS),
                        help="trials per person, numbered 1..N (default %(default)s)")
    parser.add_argument("--positions", type=int, default=len(DEFAULT_POSITIONS),
                        help="camera positions per trial, numbered 1..N (default %(default)s)")
    parser.add_argument("--commands", type=int, default=len(DEFAULT_COMMANDS),
                        help="spoken commands per position, numbered 1..N (default %(default)s)")
    parser.add_argument("--frames", type=int, default=3,
                        help="image frames per recording and camera (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed; the same seed writes the same bytes (default %(default)s)")
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE,
                        help="side of the square png images in pixels (default %(default)s)")
    parser.add_argument("--audio-seconds", type=float, default=DEFAULT_AUDIO_SECONDS,
                        help="length of each wav in seconds (default %(default)s)")
    parser.add_argument("--split", choices=SPLITS, default="train",
                        help="split folder <split>_data to write (default %(default)s)")
    parser.add_argument("--identity-strength", type=_strength_triplet("--identity-strength"), default=None,
                        metavar="A,V,T",
                        help="how distinct people are in audio, visible, thermal "
                             f"(default {','.join(str(IDENTITY_STRENGTH[m]) for m in MODALITIES)})")
    parser.add_argument("--nuisance-strength", type=_strength_triplet("--nuisance-strength"), default=None,
                        metavar="A,V,T",
                        help="how much recordings of one person vary in audio, visible, thermal "
                             f"(default {','.join(str(NUISANCE_STRENGTH[m]) for m in MODALITIES)})")
    parser.add_argument("--lookalike-similarity", type=float, default=LOOKALIKE_SIMILARITY,
                        help="share of identity that look-alike partners have in common outside their "
                             "telling modality, 0..1 (default %(default)s)")
    args = parser.parse_args(argv)
    for name in ("subjects", "trials", "positions", "commands"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    written = write_speakingfaces(
        args.out_dir,
        subjects=range(1, args.subjects + 1),
        trials=range(1, args.trials + 1),
        positions=range(1, args.positions + 1),
        commands=range(1, args.commands + 1),
        seed=args.seed,
        frames_per_recording=args.frames,
        image_size=args.image_size,
        audio_seconds=args.audio_seconds,
        split=args.split,
        identity_strength=args.identity_strength,
        nuisance_strength=args.nuisance_strength,
        lookalike_similarity=args.lookalike_similarity,
    )
    print(f"wrote {len(written)} recordings of {args.subjects} people to {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
