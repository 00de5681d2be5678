"""Audio corruptions at severities 1..5: coloured noise, babble, reverberation, clipping, a telephone channel.

`corrupt_audio` takes a decoded mono waveform (float32 [N] in [-1, 1], at its source rate) and returns the
corrupted one (float32 [N], the same length and timing). Each corruption's parameter at a severity is fixed by
AUDIO_CORRUPTIONS; everything else random comes from the `rng` passed in (pipelines.corruptions.seeding
.corruption_rng), never from global state:

- noise: Gaussian noise with power spectrum 1/f^beta from NOISE_LOW_HZ to the Nyquist frequency (none below:
  no sub-audible rumble counts in the SNR), beta drawn uniformly in [0, 2] (white 0, pink 1, brown 2), added at
  the severity's SNR against the waveform's power over the whole clip.
- babble: the caller's recordings of other speakers (`babble`, same rate; choose them from other test speakers),
  each read from an offset drawn from rng (tiled or cut to N), scaled to equal power over its whole recording,
  summed, and added like noise.
- reverb: convolution with a room impulse response of the severity's RT60 (pyroomacoustics, hybrid image source
  and ray tracing) from a bank of BANK_ROOMS shoebox rooms whose geometry comes from BANK_SEED (the same rooms at
  every RT60; rng picks the room); the response starts at its direct path, so the speech keeps its timing, and
  the output keeps the input's RMS.
- clipping: hard clipping at a share of the waveform's peak |x| (an input gain of 1/share into a converter's full
  scale), then scaled back to the input's RMS (the output's peak stays under the input's).
- telephone: a 300-3,400 Hz band-pass (4th-order Butterworth, zero-phase), resampled to 8 kHz, mu-law coded
  (mu = 255) with the severity's bits, resampled back (soxr HQ); deterministic (rng unused).

The levels are calibrated against the single-sensor reference where a physically meaningful level allows it
(docs/corruptions.md#calibration: clipping is; noise, babble, reverb and the telephone keep ImageNet-C-like levels,
for the reasons given there).

Additive corruptions set the SNR exactly and do not clip: their output may exceed [-1, 1], as a float recording
may. Every room impulse response is computed once per (sample rate, RT60, room) and kept in memory.
"""

import functools
import threading

import numpy as np
import pyroomacoustics
import scipy.signal
import soxr

from pipelines.corruptions.seeding import Corruption

AUDIO_CORRUPTIONS = {corruption.name: corruption for corruption in (
    Corruption("noise", "audio", (20, 15, 10, 5, 0), "dB SNR",
               "coloured Gaussian noise (power spectrum 1/f^beta, beta drawn in [0, 2]: white to brown) added at "
               "this SNR against the clip's power"),
    Corruption("babble", "audio", (20, 15, 10, 5, 0), "dB SNR",
               "other test speakers' recordings, at equal power from random offsets, summed and added at this SNR"),
    Corruption("reverb", "audio", (0.2, 0.4, 0.6, 0.9, 1.2), "s RT60",
               "convolution with a simulated room impulse response (one of a fixed bank of rooms) of this "
               "reverberation time, level-matched"),
    Corruption("clipping", "audio", (0.6, 0.45, 0.35, 0.3, 0.25), "share of the peak",
               "hard clipping at this share of the clip's peak amplitude, then scaled back to the clip's RMS"),
    Corruption("telephone", "audio", (8, 6, 5, 4, 3), "mu-law bits",
               "a telephone line: 300-3,400 Hz band, 8 kHz sampling and mu-law coding with this many bits"),
)}

# Hz: the coloured noise holds no power below it.
NOISE_LOW_HZ = 50.0
# The noise's spectral exponent beta (power ~ 1/f^beta) is drawn uniformly in this range.
NOISE_EXPONENTS = (0.0, 2.0)

# The reverberation bank: BANK_ROOMS shoebox rooms, sizes (length, width, height in m) uniform in ROOM_SIZE_M,
# source and microphone at least WALL_MARGIN_M from every wall and MIN_DISTANCE_M apart, all drawn from BANK_SEED.
BANK_ROOMS = 8
BANK_SEED = 0
ROOM_SIZE_M = ((3.5, 3.0, 2.6), (7.0, 5.5, 3.4))
WALL_MARGIN_M = 0.5
MIN_DISTANCE_M = 1.0
# Every wall scatters this share of the energy it reflects (a diffuse field, whose decay Eyring's formula predicts).
WALL_SCATTERING = 0.3
# The simulation: image sources up to this order, then RAYS rays of ray tracing for the tail.
IMAGE_ORDER = 3
RAYS = 5000
# Speed of sound, m/s.
SPEED_OF_SOUND = 343.0

# The telephone channel.
TELEPHONE_BAND_HZ = (300.0, 3400.0)
TELEPHONE_RATE = 8000
MU = 255

# pyroomacoustics' ray tracing draws from its package-wide generators: the bank seeds them room by room, one room
# at a time.
_SIMULATION_LOCK = threading.Lock()


def corrupt_audio(waveform, sample_rate, name, severity, rng, babble=None):
    """float32 [N] mono waveform at `sample_rate` Hz -> float32 [N]: corruption `name` at `severity` (1..5).

    rng: the np.random.Generator of every random draw (corruption_rng(recording, "audio", name, severity, seed)).
    babble: for "babble" only, a non-empty list of other speakers' waveforms (float [M_i], same rate).
    Raises ValueError naming the argument for an unknown name, a severity outside 1..5, an empty, multi-channel,
    non-finite or (for the additive corruptions) silent waveform, or babble missing or bad when needed.
    """
    if name not in AUDIO_CORRUPTIONS:
        raise ValueError(f"name must be one of {sorted(AUDIO_CORRUPTIONS)}, got {name!r}")
    level = AUDIO_CORRUPTIONS[name].level(severity)
    clean = _checked_waveform(waveform, "waveform")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator (see corruption_rng), got {type(rng).__name__}")
    if name == "noise":
        corrupted = _add_at_snr(clean, _coloured_noise(len(clean), sample_rate, rng), level)
    elif name == "babble":
        corrupted = _add_at_snr(clean, _babble(babble, len(clean), rng), level)
    elif name == "reverb":
        corrupted = _reverberate(clean, room_impulse_response(int(sample_rate), level, int(rng.integers(BANK_ROOMS))))
    elif name == "clipping":
        corrupted = _clip(clean, level)
    else:
        corrupted = _telephone(clean, int(sample_rate), level)
    return corrupted.astype(np.float32)


@functools.lru_cache(maxsize=None)
def room_impulse_response(sample_rate, rt60, room):
    """float64 [L] (read-only): the impulse response of bank room `room` (0..BANK_ROOMS-1) at RT60 `rt60` s.

    The room's size and positions come from (BANK_SEED, room) alone; its walls absorb, by Eyring's formula, what
    gives `rt60`. The response starts at the direct path's peak.
    """
    if not 0 <= room < BANK_ROOMS:
        raise ValueError(f"room must be in 0..{BANK_ROOMS - 1}, got {room!r}")
    draws = np.random.default_rng([BANK_SEED, room])
    size = draws.uniform(*ROOM_SIZE_M)
    source = draws.uniform(WALL_MARGIN_M, size - WALL_MARGIN_M)
    microphone = draws.uniform(WALL_MARGIN_M, size - WALL_MARGIN_M)
    while np.linalg.norm(microphone - source) < MIN_DISTANCE_M:
        microphone = draws.uniform(WALL_MARGIN_M, size - WALL_MARGIN_M)
    volume = np.prod(size)
    surface = 2 * (size[0] * size[1] + size[1] * size[2] + size[0] * size[2])
    absorption = 1 - np.exp(-24 * np.log(10) * volume / (SPEED_OF_SOUND * surface * rt60))
    with _SIMULATION_LOCK:
        pyroomacoustics.random.seed(numpy=[BANK_SEED, room], libroom=BANK_SEED * BANK_ROOMS + room)
        simulation = pyroomacoustics.ShoeBox(
            size, fs=sample_rate, materials=pyroomacoustics.Material(float(absorption), WALL_SCATTERING),
            max_order=IMAGE_ORDER, ray_tracing=True, air_absorption=False)
        simulation.set_ray_tracing(n_rays=RAYS)
        simulation.add_source(source)
        simulation.add_microphone(microphone)
        simulation.compute_rir()
        response = np.asarray(simulation.rir[0][0], np.float64)
    response = response[np.argmax(np.abs(response)):].copy()
    response.setflags(write=False)
    return response


def _checked_waveform(waveform, argument):
    """float64 [N] copy of a non-empty, finite, 1-D waveform; ValueError naming `argument` otherwise."""
    samples = np.asarray(waveform)
    if samples.ndim != 1 or samples.size == 0 or not np.issubdtype(samples.dtype, np.floating):
        raise ValueError(f"{argument} must be a non-empty 1-D float array (mono samples), "
                         f"got shape {samples.shape} of {samples.dtype}")
    if not np.isfinite(samples).all():
        raise ValueError(f"{argument} holds NaN or infinite samples")
    return samples.astype(np.float64)


def _power(samples):
    return float(np.mean(np.square(samples)))


def _add_at_snr(clean, noise, snr_db):
    """clean + noise scaled so that power(clean) / power(scaled noise) is `snr_db` dB."""
    if _power(clean) == 0:
        raise ValueError("waveform is silent: an SNR needs its power")
    return clean + noise * np.sqrt(_power(clean) / (_power(noise) * 10 ** (snr_db / 10)))


def _coloured_noise(count, sample_rate, rng):
    """float64 [count]: Gaussian noise of power spectrum 1/f^beta above NOISE_LOW_HZ, beta drawn from rng."""
    if count < 2:
        raise ValueError(f"waveform must hold at least 2 samples for coloured noise, got {count}")
    exponent = rng.uniform(*NOISE_EXPONENTS)
    frequencies = np.fft.rfftfreq(count, 1 / sample_rate)
    spectrum = rng.standard_normal(len(frequencies)) + 1j * rng.standard_normal(len(frequencies))
    gain = np.zeros(len(frequencies))
    audible = frequencies >= NOISE_LOW_HZ
    gain[audible] = frequencies[audible] ** (-exponent / 2)
    return np.fft.irfft(spectrum * gain, count)


def _babble(babble, count, rng):
    """float64 [count]: the sum of every talker in `babble`, each from an rng offset and at unit power."""
    if babble is None or isinstance(babble, np.ndarray) or len(babble) == 0:
        raise ValueError("babble must be a non-empty list of other speakers' waveforms for the babble corruption")
    mix = np.zeros(count)
    for index, talker in enumerate(babble):
        talker = _checked_waveform(talker, f"babble[{index}]")
        if _power(talker) == 0:
            raise ValueError(f"babble[{index}] is silent")
        start = int(rng.integers(len(talker)))
        mix += np.resize(np.roll(talker, -start), count) / np.sqrt(_power(talker))
    if _power(mix) == 0:
        raise ValueError(f"babble is silent over the {count} samples drawn from it: no noise to add")
    return mix


def _reverberate(clean, response):
    """clean convolved with `response`, cut to the input's length and scaled to its RMS."""
    wet = scipy.signal.fftconvolve(clean, response)[:len(clean)]
    return _matched_rms(wet, clean)


def _clip(clean, share):
    """clean hard-clipped at `share` of its peak |x|, scaled back to its RMS."""
    threshold = share * np.max(np.abs(clean))
    return _matched_rms(np.clip(clean, -threshold, threshold), clean)


def _matched_rms(samples, reference):
    """samples scaled to the RMS of `reference` (unchanged when silent)."""
    if _power(samples) == 0:
        return samples
    return samples * np.sqrt(_power(reference) / _power(samples))


def _telephone(clean, sample_rate, bits):
    """clean through the telephone band, 8 kHz sampling and `bits`-bit mu-law, back at `sample_rate`."""
    if sample_rate < TELEPHONE_RATE:
        raise ValueError(f"sample_rate must be at least {TELEPHONE_RATE} Hz for the telephone corruption, "
                         f"got {sample_rate}")
    sections = scipy.signal.butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=sample_rate, output="sos")
    band = scipy.signal.sosfiltfilt(sections, clean, padlen=min(len(clean) - 1, 3 * (2 * len(sections) + 1)))
    line = _mu_law(soxr.resample(band, sample_rate, TELEPHONE_RATE, quality="HQ"), bits)
    received = soxr.resample(line, TELEPHONE_RATE, sample_rate, quality="HQ")
    return np.pad(received, (0, max(0, len(clean) - len(received))))[:len(clean)]


def _mu_law(samples, bits):
    """samples (clipped to [-1, 1]) mu-law companded, quantised to 2^bits - 1 levels and expanded back."""
    companded = np.sign(samples) * np.log1p(MU * np.minimum(np.abs(samples), 1)) / np.log1p(MU)
    steps = 2 ** (bits - 1) - 1
    quantised = np.round(companded * steps) / steps
    return np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(MU)) / MU
