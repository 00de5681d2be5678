"""Writes a small synthetic data set in the RAVDESS layout (speech, audio-only and video-only files).

It stands in for RAVDESS (Livingstone & Russo 2018) where the real data is
absent: the same folders and file names, read by pipelines.ravdess. Actors
are the people of pipelines.synthetic (voice, face and heat pattern, drawn by
pipelines.synthetic_voice and pipelines.synthetic_images; no look-alike
pairs), RAVDESS style: odd actors male (lower, longer-tract voices), even
actors female.

Each take acts one of the eight EMOTIONS at normal (01) or strong (02)
intensity (neutral only at 01). The emotion shows in every modality
(EMOTION_CUES, at full strength for a strong take, INTENSITY_SCALE of it for
a normal one):

- voice: pitch, speaking rate, vocal tension (spectral tilt), breathiness,
  loudness, formant shift (a smile shortens the vocal tract), formant
  bandwidths (a lax voice) and brightness;
- face: mouth corners (smile or frown), brows (raised, lowered, inner ends
  up or down), eye openness, mouth width, jaw drop and head bowed; the face
  moves from neutral to the expression's apex during the clip, and the mouth
  moves while the words are spoken;
- heat (with thermal=True): face, forehead, nose and cheek temperatures.

What makes it hard, as with real actors: each actor has their own
expressiveness per modality (one acts mostly with the face, another with
the voice) and their own resting face; every take varies how strongly it is
acted and adds noise to every cue; and every recording varies what a studio
session varies: audio noise, microphone colouring, speaking rate and onset,
head position, lighting. The words are set by the statement, never by the
actor or the emotion; as RAVDESS's two statements, ours share all but two
syllables. Measured with simple features and logistic regression
on unseen actors (the features of tests/pipelines/test_synthetic_ravdess.py:
MFCC means and deviations; the face's mean change from the clip's first,
neutral frame, 6 x 6 grey; the thermal face's mean heat, 6 x 6), the
default set (seed 0, actors 1-6, 360 takes, thermal=True) gives emotion
accuracies (chance 0.125) of

    held out         audio  visible  thermal  audio+visible  all three
    actors 5-6       0.39   0.38     0.23     0.64           0.63
    pairs, mean of 3 0.36   0.38     0.22     0.52           0.49

and the actor (trained on statement 1, tested on 2; chance 1/6) 0.49 from
audio, 1.00 from the face and 0.97 from heat (mean frames, 8 x 8). With
only four actors to learn from, the audio figure swings with the seed
(0.23-0.43 over seeds 0-5 in the test's smaller set).

Files, for actor AA, emotion EE, intensity II, statement SS, repetition RR:

    <root>/Actor_AA/03-01-EE-II-SS-RR-AA.wav          speech, audio-only
    <root>/Actor_AA/02-01-EE-II-SS-RR-AA.<fmt>        speech, video-only
    <root>/Actor_AA/thermal/04-01-EE-II-SS-RR-AA.<fmt>  thermal video (thermal=True)

wav: mono 16-bit PCM at `sample_rate` (48 kHz as in RAVDESS). Videos: 8-bit
colour, `video_frames` frames at `fps`, `image_size` square; .mp4 (mp4v) or
.avi (MJPG), the codecs OpenCV's wheels both write and read. The thermal
video holds the grey heat map colour-mapped with cv2.COLORMAP_INFERNO
(THERMAL_PALETTE; the synthetic SpeakingFaces set's frames are iron, and
--thermal-palette auto tells the two apart). Modality code 04
is ours (RAVDESS has no thermal camera); pipelines.ravdess reads the
thermal/ sub-folder only when thermal is among the run's modalities, so a
tree with thermal videos reads as one without in an audio-visual run. It
reads .mp4 and .avi videos alike.

The same arguments always write the same bytes; an actor looks and sounds
the same whatever other actors or takes are written.

Shell: python -m pipelines.synthetic.ravdess OUT_DIR [--actors N] [--format mp4|avi] ...
"""

import argparse
import dataclasses
import hashlib
import math
import numbers
import os

import cv2
import numpy as np
import soundfile
from scipy import signal

from avtfuse.contract import MODALITIES
from pipelines.synthetic import images as synthetic_images, speakingfaces as synthetic, unrecorded, \
    voice as synthetic_voice
from pipelines.ravdess import EMOTIONS, THERMAL_FOLDER
from pipelines.synthetic.images import face_image, heat_image
from pipelines.synthetic.voice import speech, syllables

SPEECH = 1  # vocal channel code
AUDIO_CODE, VIDEO_CODE, THERMAL_CODE = 3, 2, 4  # modality codes; 04 (thermal) is ours
THERMAL_PALETTE = "inferno"  # the palette the thermal videos are written with (pipelines.palettes)
VIDEO_FORMATS = {"mp4": "mp4v", "avi": "MJPG"}  # suffix -> fourcc

DEFAULT_ACTORS = tuple(range(1, 7))
DEFAULT_INTENSITIES = (1, 2)
DEFAULT_STATEMENTS = (1, 2)
DEFAULT_REPETITIONS = (1, 2)
DEFAULT_VIDEO_FRAMES = 15
DEFAULT_FPS = 5
DEFAULT_IMAGE_SIZE = 64
DEFAULT_SAMPLE_RATE = 48000

INTENSITY_SCALE = {1: 0.6, 2: 1.0}  # share of the emotion's cues a normal (01) / strong (02) take shows

# Emotion cues at full (strong) intensity; neutral is all zeros.
# voice: pitch (octaves), rate (log duration factor, > 0 slower), tension (added to
#   the glottal pole, < 0 brighter, pressed), breath (added breathiness), loudness
#   (dB), formant (log vocal-tract scale, > 0 higher formants), bandwidth (log
#   formant-bandwidth scale, > 0 lax), brightness (added to the timbre peak's gain).
# face: smile, brow_raise, brow_tilt (synthetic_images.NEUTRAL_EXPRESSION), eye_open
#   (log factor), mouth_width (added, fraction of head width), jaw (mouth opening
#   0..1 held through the clip), talk (log factor on the mouth's movement while
#   speaking), head_down (fraction of the image).
# heat: face_temp, forehead, nose, cheeks (added to the heat attributes, 0..1 sensor scale).
VOICE_CUES = ("pitch", "rate", "tension", "breath", "loudness", "formant", "bandwidth", "brightness")
FACE_CUES = ("smile", "brow_raise", "brow_tilt", "eye_open", "mouth_width", "jaw", "talk", "head_down")
HEAT_CUES = ("face_temp", "forehead", "nose", "cheeks")
EMOTION_CUES = {
    # voice: pitch  rate  tension breath  loud  formant  bandw  bright
    # face:  smile  brow  tilt   eye    width  jaw    talk   down
    # heat:  face   fore  nose   cheeks
    "neutral": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                0.0, 0.0, 0.0, 0.0),
    "calm": (-0.16, 0.33, 0.13, 0.16, -6.5, 0.0, 0.33, -0.33,
             0.5, 0.0, 0.0, -0.3, 0.0, 0.0, -0.5, 0.0,
             0.0, 0.0, 0.03, 0.0),
    "happy": (0.57, -0.16, -0.16, 0.0, 4.88, 0.1, -0.33, 0.49,
              2.5, 0.38, 0.0, -0.38, 0.1, 0.19, 0.25, 0.0,
              0.02, 0.0, 0.0, 0.06),
    "sad": (-0.33, 0.57, 0.25, 0.4, -11.38, -0.07, 0.65, -0.65,
            -1.75, 0.25, 1.75, -0.38, -0.05, 0.0, -0.62, 0.05,
            -0.02, 0.0, -0.02, -0.03),
    "angry": (0.4, -0.33, -0.45, -0.08, 9.75, 0.03, -0.65, 0.98,
              -1.0, -1.5, -2.0, -0.19, 0.0, 0.19, 0.38, 0.0,
              0.05, 0.08, 0.02, 0.05),
    "fearful": (0.81, -0.4, -0.08, 0.57, -1.62, 0.05, 0.16, 0.33,
                -0.75, 1.5, 1.25, 0.75, 0.1, 0.38, 0.12, 0.0,
                -0.03, 0.04, -0.1, -0.04),
    "disgust": (-0.16, 0.33, 0.08, 0.16, -3.25, -0.1, 0.49, -0.16,
                -1.5, -1.0, -0.62, -0.62, -0.05, 0.06, -0.25, 0.02,
                0.0, 0.02, -0.05, 0.0),
    "surprised": (0.81, 0.0, -0.2, 0.13, 6.5, 0.08, -0.16, 0.49,
                  0.0, 2.5, 0.0, 0.88, -0.12, 0.88, 0.0, 0.0,
                  0.0, 0.03, -0.04, 0.02),
}
assert tuple(EMOTION_CUES) == EMOTIONS

# Tuning knobs (the accuracies they give are in the module docstring).
NUISANCE_STRENGTH = {"audio": 0.6, "visible": 0.5, "thermal": 0.7}  # pipelines.synthetic's, a steadier studio camera
ACTOR_EXPRESSIVENESS = 0.3  # sd of an actor's log expressiveness, one per modality
RESTING_FACE = 0.15  # sd of an actor's resting smile, brow raise and brow tilt
TAKE_STRENGTH = 0.2  # sd of a take's log acting strength (all modalities)
CUE_NOISE = 0.15  # sd of a take's noise on each cue, in units of the cue's largest size over the emotions
GENDER_PITCH = 0.35  # octaves below (male, odd actors) or above (female, even actors) the person's pitch
GENDER_TRACT = 0.07  # log formant scale: lower formants (a longer vocal tract) for male, higher for female
LOUDNESS_HEADROOM = 11.0  # dB below the voice generator's level, so that loud takes do not clip
SYLLABLE_LENGTH = 0.85  # syllable lengths x this, so that slow speech still fits the speech window

# Random-stream tags (pipelines.synthetic uses 1..6 for its own streams).
_STYLE, _TAKE, _FRAME, _STATEMENT, _HEAT = range(101, 106)


@dataclasses.dataclass(frozen=True)
class SyntheticTake:
    """One written take: its codes and the files written for it (each None when not written)."""

    actor: int
    emotion: str
    intensity: int
    statement: int
    repetition: int
    audio: str | None
    visible: str | None
    thermal: str | None

    def path(self, modality):
        """The take's file of `modality` (None when not written)."""
        return getattr(self, modality)

    @property
    def recording(self):
        """The id pipelines.ravdess gives this take: "VV-EE-II-SS-RR-AA"."""
        return _take_id(self.actor, self.emotion, self.intensity, self.statement, self.repetition)


def _take_id(actor, emotion, intensity, statement, repetition):
    codes = (SPEECH, EMOTIONS.index(emotion) + 1, intensity, statement, repetition, actor)
    return "-".join(f"{c:02d}" for c in codes)


def write_ravdess(
    root,
    actors=DEFAULT_ACTORS,
    emotions=EMOTIONS,
    statements=DEFAULT_STATEMENTS,
    repetitions=DEFAULT_REPETITIONS,
    intensities=DEFAULT_INTENSITIES,
    seed=0,
    video_frames=DEFAULT_VIDEO_FRAMES,
    fps=DEFAULT_FPS,
    image_size=DEFAULT_IMAGE_SIZE,
    audio_seconds=None,
    sample_rate=DEFAULT_SAMPLE_RATE,
    video_format="mp4",
    thermal=False,
    natural_missing=None,
):
    """Writes one take per (actor, emotion, intensity, statement, repetition) under `root`.

    actors: ints 1..24. emotions: names from EMOTIONS. statements,
    repetitions, intensities: subsets of (1, 2); neutral is written at
    intensity 1 only (as in RAVDESS), and only when 1 is among `intensities`.
    video_frames at fps: the videos' length; image_size: their side in pixels
    (even, >= 16). audio_seconds: the wav's length (None: as long as the
    video; the speech lasts at most 1.45 s and starts at a random time).
    sample_rate: the wav's rate in Hz. video_format: "mp4" or "avi".
    thermal: also write the thermal videos (module docstring).
    natural_missing: None, or {modality: share of the takes written without
    it} (thermal only with `thermal`; exact counts drawn by `seed`, every take
    keeping one sensor: pipelines.synthetic.unrecorded); the other files are
    the bytes the set without it holds, and root/not_recorded.csv lists the
    cells left out.
    Returns the SyntheticTake written, in loop order (actor, emotion,
    intensity, statement, repetition).
    """
    actors = _codes("actors", actors, 24)
    statements = _codes("statements", statements, 2)
    repetitions = _codes("repetitions", repetitions, 2)
    intensities = _codes("intensities", intensities, 2)
    emotions = _emotions(emotions)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: must be a non-negative int, got {seed!r}")
    if not isinstance(video_frames, (int, np.integer)) or video_frames < 1:
        raise ValueError(f"video_frames: must be an int >= 1, got {video_frames!r}")
    if not (isinstance(fps, numbers.Real) and not isinstance(fps, bool) and math.isfinite(fps) and 1 <= fps <= 120):
        raise ValueError(f"fps: must be a number between 1 and 120, got {fps!r}")
    if not isinstance(image_size, (int, np.integer)) or image_size < 16 or image_size % 2:
        raise ValueError(f"image_size: must be an even int >= 16 pixels (video codecs need even sides), "
                         f"got {image_size!r}")
    if audio_seconds is None:
        audio_seconds = video_frames / fps
    if not 0.5 <= audio_seconds <= 30:
        raise ValueError(f"audio_seconds: must be between 0.5 and 30, got {audio_seconds!r}")
    if not isinstance(sample_rate, (int, np.integer)) or not 8000 <= sample_rate <= 192000:
        raise ValueError(f"sample_rate: must be an int between 8000 and 192000 Hz, got {sample_rate!r}")
    if video_format not in VIDEO_FORMATS:
        raise ValueError(f"video_format: must be one of {tuple(VIDEO_FORMATS)}, got {video_format!r}")
    settings = {"video_frames": int(video_frames), "fps": float(fps), "image_size": int(image_size),
                "audio_seconds": float(audio_seconds), "sample_rate": int(sample_rate)}
    written_modalities = MODALITIES if thermal else MODALITIES[:2]
    shares = synthetic._strengths("natural_missing", dict.fromkeys(MODALITIES, 0.0), natural_missing)
    if not thermal and shares["thermal"]:
        raise ValueError("natural_missing: no thermal video is written without thermal=True")
    takes = len(actors) * len(statements) * len(repetitions) * sum(
        1 for emotion in emotions for intensity in intensities if emotion != "neutral" or intensity == 1)
    lacking = unrecorded.unrecorded_cells(takes, [shares[m] for m in written_modalities], seed)

    written = []
    for actor in actors:
        person = _actor(seed, actor)
        folder = os.path.join(root, f"Actor_{actor:02d}")
        os.makedirs(os.path.join(folder, THERMAL_FOLDER) if thermal else folder, exist_ok=True)
        for emotion in emotions:
            for intensity in intensities:
                if emotion == "neutral" and intensity != 1:
                    continue
                for statement in statements:
                    for repetition in repetitions:
                        stem = _take_id(actor, emotion, intensity, statement, repetition)
                        take = SyntheticTake(
                            actor, emotion, intensity, statement, repetition,
                            audio=os.path.join(folder, f"{AUDIO_CODE:02d}-{stem}.wav"),
                            visible=os.path.join(folder, f"{VIDEO_CODE:02d}-{stem}.{video_format}"),
                            thermal=(os.path.join(folder, THERMAL_FOLDER, f"{THERMAL_CODE:02d}-{stem}.{video_format}")
                                     if thermal else None),
                        )
                        _write_take(seed, person, take, settings, video_format)
                        files = unrecorded.leave_out(
                            {m: (take.path(m),) for m in written_modalities},
                            dict(zip(written_modalities, lacking[len(written)])))
                        written.append(dataclasses.replace(take, **{m: (paths or (None,))[0]
                                                                    for m, paths in files.items()}))
    if lacking.any():
        unrecorded.write_not_recorded(root, [(take.recording, m) for take, row in zip(written, lacking)
                                             for m, gone in zip(written_modalities, row) if gone])
    return written


def generator_fingerprint():
    """A short hash of the generator's code (this module and the modules it draws with)."""
    digest = hashlib.sha256()
    for module in (__file__, synthetic.__file__, synthetic_voice.__file__, synthetic_images.__file__,
                   unrecorded.__file__):
        with open(module, "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()[:8]


def emotion_cues(emotion):
    """{"voice": {...}, "face": {...}, "heat": {...}}: the cues of `emotion` at full intensity."""
    values = EMOTION_CUES[emotion]
    voice, face = len(VOICE_CUES), len(VOICE_CUES) + len(FACE_CUES)
    return {"voice": dict(zip(VOICE_CUES, values[:voice])), "face": dict(zip(FACE_CUES, values[voice:face])),
            "heat": dict(zip(HEAT_CUES, values[face:]))}


# ---------------------------------------------------------------- arguments


def _codes(name, values, largest):
    values = synthetic._ids(name, values)
    if max(values) > largest:
        raise ValueError(f"{name}: every entry must lie in 1..{largest}, got {values}")
    return values


def _emotions(emotions):
    emotions = [emotions] if isinstance(emotions, str) else list(emotions)
    if not emotions:
        raise ValueError("emotions: at least one is needed")
    unknown = [e for e in emotions if e not in EMOTIONS]
    if unknown:
        raise ValueError(f"emotions: unknown {unknown}; choose from {EMOTIONS}")
    if len(set(emotions)) != len(emotions):
        raise ValueError(f"emotions: repeated entries in {emotions}")
    return emotions


# ---------------------------------------------------------------- actors and takes


def _actor(seed, actor):
    """The actor's identity (pipelines.synthetic's person, no look-alikes, RAVDESS gender) and acting style."""
    person = synthetic._person(seed, actor, synthetic.IDENTITY_STRENGTH, 0.0)
    sign = -1.0 if actor % 2 else 1.0  # odd actors male, even female
    person["audio"] = dict(person["audio"], log2_f0=person["audio"]["log2_f0"] + sign * GENDER_PITCH,
                           tract_scale=person["audio"]["tract_scale"] * np.exp(sign * GENDER_TRACT))
    rng = synthetic._rng(seed, _STYLE, actor)
    person["expressiveness"] = dict(zip(("voice", "face", "heat"), np.exp(rng.normal(0, ACTOR_EXPRESSIVENESS, 3))))
    person["resting"] = {"smile": rng.normal(0, RESTING_FACE), "brow_raise": rng.normal(0, RESTING_FACE),
                         "brow_tilt": rng.normal(0, RESTING_FACE)}
    return person


_CUE_SIZE = np.abs(np.array(list(EMOTION_CUES.values()))).max(axis=0)


def _acted_cues(rng, person, emotion, intensity):
    """The take's cues: the emotion's, scaled by intensity, actor and take, plus the take's noise."""
    cues = emotion_cues(emotion)
    strength = INTENSITY_SCALE[intensity] * np.exp(rng.normal(0, TAKE_STRENGTH))
    noise = iter(rng.normal(0, CUE_NOISE, len(_CUE_SIZE)) * _CUE_SIZE)
    return {part: {name: value * strength * person["expressiveness"][part] + next(noise)
                   for name, value in values.items()}
            for part, values in cues.items()}


def _write_take(seed, person, take, settings, video_format):
    key = (take.actor, EMOTIONS.index(take.emotion) + 1, take.intensity, take.statement, take.repetition)
    rng = synthetic._rng(seed, _TAKE, *key)
    cues = _acted_cues(rng, person, take.emotion, take.intensity)
    words = _statement_words(seed, take.statement)
    waveform, speaking = _voice(rng, person["audio"], cues["voice"], words, settings)
    soundfile.write(take.audio, waveform, settings["sample_rate"], subtype="PCM_16", format="WAV")

    scene = synthetic._scene(rng, {"shift": np.zeros(2), "log_scale": 0.0, "angle": 0.0}, NUISANCE_STRENGTH)
    scene["background"] = rng.uniform(200, 240) * np.exp(rng.normal(0, 0.03, 3))  # a plain studio backdrop
    scene["clutter"] = []
    apex_start = rng.uniform(0.0, 0.4)  # seconds: the face leaves neutral ...
    apex_rise = rng.uniform(0.3, 1.0)  # ... and reaches the expression's apex this much later
    heat = dict(person["thermal"])  # heat changes slowly: the take's emotion shows from the first frame
    for name, value in cues["heat"].items():
        heat[name] += value
    visible_frames, thermal_frames = [], []
    for index in range(settings["video_frames"]):
        frame_rng = synthetic._rng(seed, _FRAME, *key, index)
        start, end = index / settings["fps"], (index + 1) / settings["fps"]
        ramp = float(np.clip((start - apex_start) / apex_rise, 0, 1))
        ramp = ramp * ramp * (3 - 2 * ramp)  # smooth step
        pose = _pose(frame_rng, scene, cues["face"], person["resting"], ramp,
                     talking=speaking[0] < end and start < speaking[1])
        face = dict(person["visible"])
        face["mouth_width"] += ramp * cues["face"]["mouth_width"]
        visible_frames.append(cv2.cvtColor(
            face_image(face, scene, pose, frame_rng, settings["image_size"], NUISANCE_STRENGTH["visible"]),
            cv2.COLOR_RGB2BGR))
        if take.thermal:
            heat_rng = synthetic._rng(seed, _HEAT, *key, index)
            gray = heat_image(heat, scene, pose, heat_rng, settings["image_size"], NUISANCE_STRENGTH["thermal"])
            thermal_frames.append(cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO))
    _write_video(take.visible, visible_frames, settings["fps"], video_format)
    if take.thermal:
        _write_video(take.thermal, thermal_frames, settings["fps"], video_format)


def _statement_words(seed, statement):
    """The syllables of a statement. As RAVDESS's two ("Kids are talking by the door", "Dogs are sitting by
    the door"), the statements share their words but for the first and the third syllable."""
    words = syllables(synthetic._rng(seed, _STATEMENT, 0))
    own = syllables(synthetic._rng(seed, _STATEMENT, statement))
    for index in (0, 2):
        words[index] = own[index]
    return words


def _voice(rng, voice, cues, words, settings):
    """(int16-ready float waveform at the sample rate, (start, end) of the speech in seconds)."""
    voice = dict(voice)
    voice["log2_f0"] += cues["pitch"]
    voice["glottal_pole"] = float(np.clip(voice["glottal_pole"] + cues["tension"], 0.5, 0.97))
    voice["breathiness"] = max(0.0, voice["breathiness"] + cues["breath"])
    voice["tract_scale"] *= np.exp(cues["formant"])
    voice["bandwidth_scale"] *= np.exp(cues["bandwidth"])
    voice["timbre_gain"] = max(0.0, voice["timbre_gain"] + cues["brightness"])
    words = [(consonant, vowel, length * SYLLABLE_LENGTH * np.exp(cues["rate"])) for consonant, vowel, length in words]
    native = synthetic_voice.SAMPLE_RATE
    n_samples = round(settings["audio_seconds"] * native)
    wave = speech(voice, words, rng, NUISANCE_STRENGTH["audio"], n_samples).astype(np.float64)

    # Where the speech lies: from the first to the last loud stretch of the clip.
    hop = native // 100
    frames = wave[: len(wave) // hop * hop].reshape(-1, hop)
    loud = np.flatnonzero(np.sqrt(np.mean(frames ** 2, axis=1)) > 0.1 * np.abs(wave).max())
    first, last = (loud[0] * hop, (loud[-1] + 1) * hop) if len(loud) else (0, 0)
    # Start the speech at a random time: the clip's speech-free tail (noise only) moves to the front.
    shift = int(rng.uniform(0, 1) * max(0, n_samples - last - int(0.1 * native)))
    wave = np.roll(wave, shift)
    gain = 10 ** ((cues["loudness"] - LOUDNESS_HEADROOM) / 20)
    wave *= min(gain, 0.99 / (np.abs(wave).max() + 1e-9))
    rate = settings["sample_rate"]
    if rate != native:
        common = math.gcd(rate, native)
        wave = signal.resample_poly(wave, rate // common, native // common)
        wave = np.clip(wave, -1.0, 1.0)
    length = round(settings["audio_seconds"] * rate)
    wave = np.pad(wave, (0, max(0, length - len(wave))))[:length]
    return wave.astype(np.float32), ((first + shift) / native, (last + shift) / native)


def _pose(rng, scene, cues, resting, ramp, talking):
    """pipelines.synthetic's frame pose plus the expression at `ramp` (0 neutral .. 1 apex) and the mouth."""
    pose = synthetic._frame_pose(rng, scene)
    pose["expression"] = {
        "smile": resting["smile"] + ramp * cues["smile"],
        "brow_raise": resting["brow_raise"] + ramp * cues["brow_raise"],
        "brow_tilt": resting["brow_tilt"] + ramp * cues["brow_tilt"],
        "eye_open": float(np.exp(ramp * cues["eye_open"])),
    }
    movement = rng.uniform(0.3, 1.0) * 0.6 * np.exp(cues["talk"]) if talking else rng.uniform(0.0, 0.05)
    pose["mouth_open"] = float(np.clip(ramp * cues["jaw"] + movement, 0.0, 1.0))
    # Bowing the head moves it down; _place scales shifts by the nuisance strength, so undo that here.
    if NUISANCE_STRENGTH["visible"] > 0:
        pose["shift"] = pose["shift"] + np.array([0.0, ramp * cues["head_down"] / NUISANCE_STRENGTH["visible"]])
    return pose


def _write_video(path, frames, fps, video_format):
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*VIDEO_FORMATS[video_format]), fps, (width, height))
    try:
        if not writer.isOpened():
            raise OSError(f"{path}: OpenCV cannot write {VIDEO_FORMATS[video_format]} video")
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        raise OSError(f"{path}: OpenCV wrote no video")


# ---------------------------------------------------------------- shell


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.synthetic.ravdess",
        description="Write a small synthetic data set in the RAVDESS layout "
                    "(<OUT_DIR>/Actor_XX/03-01-EE-II-SS-RR-XX.wav and 02-01-...mp4).",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to write into (created if missing)")
    parser.add_argument("--actors", type=int, default=len(DEFAULT_ACTORS),
                        help="number of actors, numbered 1..N, at most 24 (default %(default)s)")
    parser.add_argument("--format", choices=tuple(VIDEO_FORMATS), default="mp4",
                        help="video container: mp4 (mp4v) or avi (MJPG) "
                             "(default %(default)s)")
    parser.add_argument("--statements", type=int, choices=(1, 2), default=2,
                        help="statements per emotion, numbered 1..N (default %(default)s)")
    parser.add_argument("--repetitions", type=int, choices=(1, 2), default=2,
                        help="repetitions per statement, numbered 1..N (default %(default)s)")
    parser.add_argument("--frames", type=int, default=DEFAULT_VIDEO_FRAMES,
                        help="frames per video (default %(default)s)")
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS, help="video frame rate (default %(default)s)")
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE,
                        help="side of the square video frames in pixels, even (default %(default)s)")
    parser.add_argument("--audio-seconds", type=float, default=None,
                        help="length of each wav in seconds (default: the video's length)")
    parser.add_argument("--sample-rate", type=int, default=DEFAULT_SAMPLE_RATE,
                        help="wav sample rate in Hz (default %(default)s)")
    parser.add_argument("--thermal", action="store_true",
                        help=f"also write thermal videos, Actor_XX/{THERMAL_FOLDER}/04-01-EE-II-SS-RR-XX.<format>")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed; the same seed writes the same bytes (default %(default)s)")
    parser.add_argument("--natural-missing", type=synthetic._strength_triplet("--natural-missing"), default=None,
                        metavar="A,V,T", help="shares of the takes written without audio, visible, thermal "
                                              "(every take keeps one; default none)")
    args = parser.parse_args(argv)
    if not 1 <= args.actors <= 24:
        parser.error("--actors must lie in 1..24")
    try:
        written = write_ravdess(
            args.out_dir, actors=range(1, args.actors + 1), statements=range(1, args.statements + 1),
            repetitions=range(1, args.repetitions + 1), seed=args.seed, video_frames=args.frames, fps=args.fps,
            image_size=args.image_size, audio_seconds=args.audio_seconds, sample_rate=args.sample_rate,
            video_format=args.format, thermal=args.thermal, natural_missing=args.natural_missing)
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote {len(written)} takes of {args.actors} actors to {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
