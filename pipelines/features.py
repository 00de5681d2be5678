"""Feature settings and the decode -> features stage that fills the cache.

Every file is decoded once, in Python threads (libsndfile, soxr and OpenCV
release the interpreter while they work): audio -> mono waveform at the run's
rate -> the speech window; frames -> [h, w, c] in [0, 1], or frame sequences
[T, h, w, c]; `.npy` files (pre-extracted features) are read as they are (a
shorter [T, D] sequence zero-padded at the end, its real length kept in
`Decoded.steps` for the cache's `steps`). The
log-mel spectrogram (or the MFCCs) of a chunk of windows is then one
tf.signal call. Every bad file is handed to the
ErrorPolicy, so that one pass reports all of them. The cache keeps the frames
as uint8 and gives them back as k / 255 (pipelines.image.to_uint8: exact for
8-bit frames at their own size, within 0.5 / 255 for resized, grey-averaged
or 16-bit ones); audio features stay float32.
"""

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import math
import os

import cv2
import librosa
import numpy as np
import soundfile
import soxr
import tensorflow as tf

from avtfuse.config import Config, setting
from avtfuse.console import Progress
from avtfuse.contract import canonical_modalities
from avtfuse.files import file_stamp
from pipelines import audio, face_embedding, image
from pipelines.errors import DataError, DataErrors, problems_of

logger = logging.getLogger(__name__)

FEATURE_SUFFIX = ".npy"
CHUNK = 64  # recordings decoded between two audio feature calls
AUDIO_FEATURES = ("log_mel", "mfcc")
VISIBLE_ENCODERS = ("frames", "dlib")


@dataclasses.dataclass(frozen=True)
class FeatureConfig(Config):
    """How raw files become model inputs.

    Audio is resampled to `sample_rate` (Hz); a window of `audio_samples`
    samples is cut as `audio_crop` says ("trim": centred on the speech left
    after trimming silence more than `trim_db` dB below the loudest frame;
    "center"; "start": from `audio_offset` seconds into the file, 0 for the
    other crops) and turned into `audio_features`: "log_mel", a log-mel
    spectrogram [audio_frames, n_mels] (dB), or "mfcc", its first `n_mfcc`
    MFCCs [audio_frames, n_mfcc] (librosa's).

    Frames are cropped as `frame_crop` says ("full": the whole frame;
    "center": its largest centred square, the stand-in for the face crop of a
    detector we cannot run), resized to `image_size` (H, W) and scaled to
    [0, 1]; colour-mapped thermal frames are inverted through
    `thermal_palette` (pipelines.palettes; "auto": chosen from a sample of the
    data's thermal frames before the cache is keyed, pipelines.palette_choice).
    `frames` = 0 gives one frame per recording, [H, W, C]; `frames` = T > 0 a sequence [T, H, W, C] sampled
    from the `frame_seconds` (s) centred in a video, or from a folder of frame
    images (a still image is repeated T times; pipelines.image). The paper's
    shapes are `FeatureConfig.paper()`.

    Limits, read from each file's header before it is decoded (a file over one
    is a bad file): `max_image_pixels` pixels per frame, `max_video_frames`
    frames per video, `max_audio_seconds` of audio. An audio file is also bad
    at a rate under pipelines.audio.MIN_SAMPLE_RATE, or when shorter than one
    `n_fft` window at `sample_rate` after `audio_offset`.
    """

    sample_rate: int = 44100
    audio_samples: int = setting(66150, "audio length in seconds after cutting/padding (AVTNet small 1.5, paper "
                                 "6.83 = 301,056 samples at 44.1 kHz)", flag="--audio-seconds", type=float,
                                 dest="audio_seconds", preset=True)
    audio_crop: str = setting("trim", "audio window: centred on the speech after trimming silence (trim), centred on "
                              "the file (center), or its start", choices=audio.AUDIO_CROPS)
    audio_offset: float = 0.0
    trim_db: float = setting(20.0, "silence = frames this many dB below the loudest")
    n_mels: int = setting(64, "mel bands of the log-mel spectrogram", preset=True)
    n_fft: int = 2048
    hop_length: int = 512
    image_size: tuple = setting((48, 48), "frame height and width in pixels", type=int, preset=True)
    thermal_palette: str = setting("auto", "palette colour-mapped thermal frames were written with: iron, inferno, "
                                   "jet, grey, ... (auto: the one a sample of the frames fits, chosen once per run)")
    audio_features: str = "log_mel"
    n_mfcc: int = 10
    frames: int = 0
    frame_seconds: float = 3.6
    frame_crop: str = "full"
    max_image_pixels: int = setting(image.MAX_IMAGE_PIXELS, "frames with more pixels are bad files (read from the "
                                    "header, before decoding)")
    max_video_frames: int = setting(54_000, "videos stating more frames are bad files (30 min at 30 fps; read from "
                                    "the header)")
    max_audio_seconds: float = setting(600.0, "longer audio files are bad files (read from the header)")
    visible_encoder: str = setting("frames", "what the cache keeps of the visible camera: frames (its pixels) or dlib "
                                   "(dlib's 128-d face embedding of each full-resolution frame, a sequence [T, 128], "
                                   "T = 1 for one frame; the faces extra; no face in any frame: no visible sensor, "
                                   "counted)", choices=VISIBLE_ENCODERS, identity_at_default=False)

    def __post_init__(self):
        self.check_int("sample_rate", "audio_samples", "n_mels", "n_fft", "hop_length", "n_mfcc", "max_image_pixels",
                       "max_video_frames")
        self.check_positive("max_audio_seconds")
        self.check_int("frames", minimum=0)
        self.check_choice("audio_crop", audio.AUDIO_CROPS)
        self.check_choice("audio_features", AUDIO_FEATURES)
        self.check_choice("frame_crop", image.FRAME_CROPS)
        self.check_choice("visible_encoder", VISIBLE_ENCODERS)
        self.check_positive("trim_db", "frame_seconds")
        if isinstance(self.audio_offset, bool) or not isinstance(self.audio_offset, (int, float)) or not (
                0.0 <= self.audio_offset < math.inf):
            self._fail("audio_offset", "a number of seconds >= 0")
        self._set("audio_offset", float(self.audio_offset))
        if self.audio_offset and self.audio_crop != "start":
            self._fail("audio_offset", f"0 with audio_crop {self.audio_crop!r} (an offset applies to 'start' only)")
        if not math.isfinite(self.frame_seconds):
            self._fail("frame_seconds", "a finite number > 0")
        if self.audio_features == "mfcc" and self.n_mfcc > self.n_mels:
            self._fail("n_mfcc", f"at most n_mels = {self.n_mels} under audio_features 'mfcc'")
        self.check_pair("image_size")
        if min(self.image_size) < 8:
            self._fail("image_size", "(H, W) with H, W >= 8")
        if self.thermal_palette != "auto":
            try:
                self._set("thermal_palette", image.check_palette(self.thermal_palette))
            except ValueError as error:
                self._fail("thermal_palette", str(error))

    @classmethod
    def paper(cls):
        """The seed paper's shapes: 44.1 kHz cut to 301,056 samples (589 x 128), 224 x 224 frames."""
        return cls(audio_samples=301056, n_mels=128, image_size=(224, 224))

    @property
    def audio_frames(self):
        return audio.num_frames(self.audio_samples, self.hop_length)

    def shapes(self, modalities):
        """Per-example tensor shapes of the run's modalities, decoded from media files (the visible camera's
        face embeddings a sequence [T or 1, 128] under visible_encoder "dlib")."""
        time = (self.frames,) if self.frames else ()
        all_shapes = {
            "audio": (self.audio_frames, self.n_mfcc if self.audio_features == "mfcc" else self.n_mels),
            "visible": (self.frames or 1, face_embedding.EMBEDDING_SIZE) if self.visible_encoder == "dlib" else
            (*time, *self.image_size, 3),
            "thermal": (*time, *self.image_size, 1),
        }
        return {m: all_shapes[m] for m in canonical_modalities(modalities)}


def is_feature_file(path):
    return bool(path) and path.lower().endswith(FEATURE_SUFFIX)


def data_shapes(recordings, modalities, config):
    """Per-example shapes of the run's modalities: from the settings for media files; for a modality given as
    `.npy` features, [D] or [T, D] as most of its files are, T the longest of those (shorter ones are
    zero-padded at the end). Files of another layout are refused when they are decoded."""
    shapes = config.shapes(modalities)
    for m in shapes:
        found = []
        for path in (r.path(m) for r in recordings if is_feature_file(r.path(m))):
            try:
                found.append(np.load(path, mmap_mode="r", allow_pickle=False).shape)
            except (OSError, ValueError):
                continue  # reported when decoded
        layouts = [(len(shape), shape[-1]) for shape in found if len(shape) in (1, 2)]
        if not layouts:
            continue
        rank, width = max(set(layouts), key=layouts.count)
        steps = [shape[0] for shape in found if len(shape) == rank == 2 and shape[-1] == width]
        shapes[m] = (width,) if rank == 1 else (max(steps), width)
    return shapes


def sequence_length(shape):
    """T of an example of `shape` when it is a sequence (a time axis first: [T, D] features or log-mel,
    [T, H, W, C] frames); 0 otherwise (a single frame [H, W, C], a feature vector [D])."""
    return int(shape[0]) if len(shape) in (2, 4) else 0


class Decoded(dict):
    """The decoded inputs of one recording, {modality: float32 array}, and `steps` {modality: real step count}
    for the `.npy` feature sequences ([T, D], zero-padded at the end to the set's T: their original T).
    Modalities not in `steps` are full: T steps for a sequence, none for a single frame or vector. `faceless`:
    the modalities whose file held no face for the face encoder (absent from the dict: not recorded)."""

    def __init__(self, *args, steps=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = dict(steps or {})
        self.faceless = []


def _load_features(path, shape):
    """A `.npy` feature file as float32 `shape` (a shorter [T, D] zero-padded at the end) and its own first
    dimension (the real T of a sequence); DataError if bad."""
    try:
        values = np.load(path, allow_pickle=False).astype(np.float32)
    except (OSError, ValueError) as error:
        raise DataError(path, f"cannot read features: {error}") from None
    if values.ndim != len(shape) or values.shape[1:] != tuple(shape[1:]) or values.shape[0] > shape[0]:
        layout = "[D]" if len(shape) == 1 else "[T, D]"
        raise DataError(path, f"features of shape {list(values.shape)}; this set's are {layout} = {list(shape)}")
    if not np.isfinite(values).all():
        raise DataError(path, "features hold NaN or infinite values")
    if values.ndim == 2:
        return np.pad(values, [(0, shape[0] - values.shape[0]), (0, 0)]), values.shape[0]
    return values, values.shape[0]


def decode_recording(recording, modalities, config, shapes, frame="middle", corrupt=None):
    """The decoded inputs of one recording: {modality: float32 array} for the modalities it has (audio: the
    waveform window [audio_samples], or its features; frames as config.shapes, `frame` choosing the one frame
    of a video or folder when config.frames = 0), as a `Decoded` dict whose `steps` gives the real length of
    each `.npy` feature sequence before padding. Every file is tried: raises DataError naming the bad file, or
    DataErrors naming each of several. Any exception while a file is decoded (cv2.error, PermissionError,
    MemoryError, ...) becomes one, so that it is that file's line in the collected report rather than the end of
    the run.

    corrupt: None, or the corruption hook of a corrupted cache (pipelines.corruptions.features): a function
    (recording, modality) -> None (that file decoded clean) or a function of its decoded media, the whole audio
    recording float32 [N] at config.sample_rate (before the silence trim, the window and the log-mel), or the
    frames float32 [T, H, W, C] in [0, 1] at their source resolution (before the crop, the palette's inversion
    and the resize), returning the same shape. `.npy` features and dlib face vectors are never handed to it."""
    decoded, problems = Decoded(), []
    for m in modalities:
        path = recording.path(m)
        if not path:
            continue
        try:
            value = _decode_file(path, m, config, shapes, frame, decoded.steps, corrupt and corrupt(recording, m))
            if value is None:
                decoded.faceless.append(m)
            else:
                decoded[m] = value
        except DataError as error:
            problems.append(error)
        except Exception as error:  # OpenCV, libsndfile, the OS or memory failing on this file: its error line
            reason = " ".join(str(error).split())  # cv2.error messages run over several lines
            problems.append(DataError(path, f"cannot decode {m}: {type(error).__name__}: {reason}"))
    if problems:
        raise DataErrors.of(problems)
    if not decoded:
        raise DataError(recording.recording, f"has none of the modalities {list(modalities)}")
    return decoded


def _decode_file(path, modality, config, shapes, frame, steps, corrupt=None):
    """One file of a recording decoded as decode_recording says, its media through `corrupt` (None: clean; a
    function of the decoded audio recording or frames, decode_recording); a `.npy` sequence's real length goes to
    `steps`."""
    if is_feature_file(path):
        values, length = _load_features(path, shapes[modality])
        if sequence_length(shapes[modality]):
            steps[modality] = length
        return values
    if modality == "audio":
        return audio.load_waveform(path, config.sample_rate, config.audio_samples, config.audio_crop,
                                   config.trim_db, config.audio_offset, min_samples=config.n_fft,
                                   max_seconds=config.max_audio_seconds, corrupt=corrupt)
    if modality == "visible" and config.visible_encoder == "dlib":
        return face_vectors(path, frame, config)
    frame_args = {"frame": frame, "frames": config.frames, "seconds": config.frame_seconds,
                  "crop": config.frame_crop, "max_pixels": config.max_image_pixels,
                  "max_video_frames": config.max_video_frames, "corrupt": corrupt}
    if modality == "visible":
        return image.load_visible(path, config.image_size, **frame_args)
    return image.load_thermal(path, config.image_size, config.thermal_palette, **frame_args)


def face_vectors(path, frame, config):
    """dlib's face embedding (pipelines.face_embedding) of each frame the visible file gives at its own
    resolution, uncropped: float32 [T, 128] for config.frames = T > 0 (a frame without a face takes the vector of
    the nearest frame with one), [1, 128] of the frame `frame` otherwise; None when no frame holds a face."""
    limits = {"max_pixels": config.max_image_pixels, "max_video_frames": config.max_video_frames}
    pixels = image.read_frames(path, config.frames, config.frame_seconds, **limits) if config.frames else \
        image.read_frame(path, frame, **limits)[None]
    vectors = []
    for index, frame_pixels in enumerate(pixels):  # a still image's T frames are one frame: embedded once
        same = index and np.array_equal(frame_pixels, pixels[index - 1])
        vectors.append(vectors[-1] if same else face_embedding.embed_face(
            np.repeat(frame_pixels, 3, axis=2) if frame_pixels.shape[2] == 1 else frame_pixels))
    found = [index for index, vector in enumerate(vectors) if vector is not None]
    if not found:
        return None
    return np.stack([vectors[min(found, key=lambda j: abs(j - index))] for index in range(len(vectors))])


def audio_features(waveforms, config):
    """float32 [..., audio_samples] windows -> [..., audio_frames, n_mels] log-mel spectrograms, or
    [..., audio_frames, n_mfcc] MFCCs, as config.audio_features says."""
    settings = {"n_mels": config.n_mels, "n_fft": config.n_fft, "hop_length": config.hop_length}
    if config.audio_features == "mfcc":
        return audio.mfcc(waveforms, config.sample_rate, config.n_mfcc, **settings)
    return audio.log_mel_spectrogram(waveforms, config.sample_rate, **settings)


def extract_features(recordings, modalities, config, shapes, policy, frame="middle", workers=None, corrupt=None):
    """Yields (recording, {modality: float32 array of `shapes[modality]`}) for each good recording, in order.

    A recording whose visible file holds no face for the face encoder is yielded without that file. Modalities a
    recording lacks are absent from its dict (a `Decoded`, whose `steps` holds the real lengths of
    `.npy` feature sequences). Decoding runs in
    `workers` threads (default: the CPU count); a bad recording is handed to
    `policy` and left out. `corrupt`: the corruption hook of decode_recording (None: clean).
    """
    modalities = canonical_modalities(modalities)
    if "thermal" in modalities and config.thermal_palette == "auto" and any(
            r.thermal and not is_feature_file(r.thermal) for r in recordings):
        raise ValueError("thermal_palette 'auto' must be settled before decoding "
                         "(pipelines.palette_choice.settle_palette)")
    batch_features = tf.function(lambda waveforms: audio_features(waveforms, config), reduce_retracing=True)
    progress = Progress(logger, "decoded", len(recordings))
    faceless = []

    def decode(recording):
        try:
            return decode_recording(recording, modalities, config, shapes, frame, corrupt)
        except DataError as error:
            return error

    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        for start in range(0, len(recordings), CHUNK):
            chunk = recordings[start:start + CHUNK]
            decoded = list(pool.map(decode, chunk))
            waves = [i for i, d in enumerate(decoded)
                     if isinstance(d, dict) and "audio" in d and not is_feature_file(chunk[i].audio)]
            if waves:
                spectra = batch_features(np.stack([decoded[i]["audio"] for i in waves])).numpy()
                for i, spectrum in zip(waves, spectra):
                    decoded[i]["audio"] = spectrum
            for recording, result in zip(chunk, decoded):
                if isinstance(result, DataError):
                    policy.handle(result)
                elif result.faceless:  # kept without that sensor: its file held no face
                    faceless.append(recording.recording)
                    yield dataclasses.replace(recording, **dict.fromkeys(result.faceless)), result
                else:
                    yield recording, result
            progress.update(start + len(chunk))
    if faceless:
        logger.warning("visible encoder dlib: no face in the visible frame of %d of %d recordings (%s%s); their "
                       "visible sensor counts as absent", len(faceless), len(recordings), ", ".join(faceless[:5]),
                       ", ..." if len(faceless) > 5 else "")


def check_refused(policy, modalities, config, shapes, frame="middle"):
    """Decodes the files found of each recording a reader refused (`policy.refused`, e.g. for a missing frame),
    only to add every problem among them to that recording's item; nothing is kept."""
    for found, item in policy.refused:
        if not any(found.path(m) for m in modalities):
            continue
        try:
            decode_recording(found, modalities, config, shapes, frame)
        except DataError as error:
            item.extend(problems_of(error))


def fingerprint(recordings, modalities, config, frame):
    """A short hash of what the decoded data depends on: every input file's path, size and modification time
    (each file of a frame folder), the modalities, the feature settings (those added later only when not at their
    default, as a run's identity has them), the frame and `decoder_versions(config)`."""
    digest = hashlib.sha256()
    digest.update(json.dumps([config.identity_dict(), list(canonical_modalities(modalities)), str(frame),
                              decoder_versions(config)]).encode())
    for rec in recordings:
        digest.update(f"{rec.recording}|{rec.person}|{rec.group_key}|{rec.split}".encode())
        for m in canonical_modalities(modalities):
            path = rec.path(m)
            digest.update(f"|{path}|{file_stamp(path)}".encode())
    return digest.hexdigest()[:16]


def decoder_versions(config=None):
    """{library: version} of what decodes files into the cache and computes its features: libsndfile (through
    soundfile), soxr, OpenCV, librosa, NumPy and TensorFlow (the log-mel); dlib too when `config` (a
    FeatureConfig) embeds the visible camera's faces."""
    versions = {"soundfile": soundfile.__version__, "libsndfile": soundfile.__libsndfile_version__,
                "soxr": soxr.__version__, "opencv": cv2.__version__, "librosa": librosa.__version__,
                "numpy": np.__version__, "tensorflow": tf.__version__}
    if config is not None and config.visible_encoder == "dlib":
        versions["dlib"] = face_embedding.dlib_version()
    return versions
