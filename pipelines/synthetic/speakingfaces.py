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
8-bit, 3 channels, a gray heat map colour-mapped with the iron palette
(pipelines.palettes), as the real set stores its thermal frames.

Shell: python -m pipelines.synthetic.speakingfaces OUT_DIR [--subjects N] [--seed S] ...
"""

import argparse
import dataclasses
import hashlib
import os

import cv2
import numpy as np
import soundfile

from avtfuse.contract import MODALITIES
from pipelines import palettes
from pipelines.synthetic import images as synthetic_images, unrecorded, voice as synthetic_voice
from pipelines.synthetic.images import face_image, heat_image, write_png
from pipelines.synthetic.voice import SAMPLE_RATE, speech, syllables

SESSION = 2
SPLITS = ("train", "valid", "test")

THERMAL_PALETTE = "iron"  # the palette the thermal frames are written with (pipelines.palettes)
DEFAULT_SUBJECTS = tuple(range(1, 13))
DEFAULT_TRIALS = (1, 2)
DEFAULT_POSITIONS = (1, 2, 3)
DEFAULT_COMMANDS = (1, 2, 3, 4)
DEFAULT_IMAGE_SIZE = 64
DEFAULT_AUDIO_SECONDS = 1.6

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


# Random-stream tags, so that every part draws from its own stream.
_PERSON, _LOOKALIKE, _POSITION, _RECORDING, _COMMAND, _FRAME = range(1, 7)


@dataclasses.dataclass(frozen=True)
class SyntheticRecording:
    """One written recording: its key and the files written for it (audio None, visible or thermal () where it
    was written without that sensor, `natural_missing`)."""

    subject: int
    trial: int
    position: int
    command: int
    audio: str | None
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
    natural_missing=None,
):
    """Writes one recording per (subject, trial, position, command) under `root`.

    subjects, trials, positions, commands: 1-based ints. image_size: side of
    the square pngs in pixels. audio_seconds: wav length (speech ends by
    1.45 s). identity_strength / nuisance_strength: dicts {modality: float}
    that override IDENTITY_STRENGTH / NUISANCE_STRENGTH for some modalities.
    The same arguments always write the same bytes; a person looks and sounds
    the same whatever other subjects are written. natural_missing: None, or
    {modality: share of the recordings written without it} (exact counts,
    drawn by `seed`, every recording keeping one sensor:
    pipelines.synthetic.unrecorded); their other files are the bytes the set
    without it holds, and root/not_recorded.csv lists the cells left out.
    Returns the list of SyntheticRecording written, in loop order.
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
    shares = _strengths("natural_missing", dict.fromkeys(MODALITIES, 0.0), natural_missing)
    lacking = unrecorded.unrecorded_cells(len(subjects) * len(trials) * len(positions) * len(commands),
                                          [shares[m] for m in MODALITIES], seed)

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
                    words = syllables(_rng(seed, _COMMAND, command))
                    waveform = speech(person["audio"], words, rng, nuisance["audio"],
                                      int(round(audio_seconds * SAMPLE_RATE)))
                    soundfile.write(audio_path, waveform, SAMPLE_RATE, subtype="PCM_16", format="WAV")
                    scene = _scene(rng, camera, nuisance)
                    rgb_paths, thermal_paths = [], []
                    for frame in range(1, frames_per_recording + 1):
                        frame_rng = _rng(seed, _FRAME, subject, trial, position, command, frame)
                        pose = _frame_pose(frame_rng, scene)
                        rgb = face_image(person["visible"], scene, pose, frame_rng, image_size,
                                          nuisance["visible"])
                        heat = heat_image(person["thermal"], scene, pose, frame_rng, image_size,
                                           nuisance["thermal"])
                        rgb_path = os.path.join(rgb_dir, f"{stem}_{frame}_3.png")
                        thermal_path = os.path.join(thermal_dir, f"{stem}_{frame}_1.png")
                        write_png(rgb_path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                        write_png(thermal_path, palettes.colour_map(heat, THERMAL_PALETTE)[:, :, ::-1])
                        rgb_paths.append(rgb_path)
                        thermal_paths.append(thermal_path)
                    files = unrecorded.leave_out(
                        {"audio": (audio_path,), "visible": rgb_paths, "thermal": thermal_paths},
                        dict(zip(MODALITIES, lacking[len(written)])))
                    written.append(SyntheticRecording(subject, trial, position, command,
                                                      (files["audio"] or (None,))[0], files["visible"],
                                                      files["thermal"]))
    if lacking.any():
        unrecorded.write_not_recorded(root, [(f"{w.subject}_{w.trial}_{w.position}_{w.command}", m)
                                             for w, row in zip(written, lacking)
                                             for m, gone in zip(MODALITIES, row) if gone])
    return written


def generator_fingerprint():
    """A short hash of the generator's code (this module, the voice, image and unrecorded-cell modules, the
    palettes)."""
    digest = hashlib.sha256()
    for module in (__file__, synthetic_voice.__file__, synthetic_images.__file__, unrecorded.__file__,
                   palettes.__file__):
        with open(module, "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()[:8]


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
        prog="python -m pipelines.synthetic.speakingfaces",
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
    parser.add_argument("--natural-missing", type=_strength_triplet("--natural-missing"), default=None,
                        metavar="A,V,T", help="shares of the recordings written without audio, visible, thermal "
                                              "(every recording keeps one; default none)")
    args = parser.parse_args(argv)
    for name in ("subjects", "trials", "positions", "commands"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    try:
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
            natural_missing=args.natural_missing,
        )
    except ValueError as error:  # e.g. --natural-missing shares that leave a recording empty
        parser.error(str(error))
    print(f"wrote {len(written)} recordings of {args.subjects} people to {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
