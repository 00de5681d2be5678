"""Synthetic speech for the synthetic SpeakingFaces set: a voice saying a command.

A source-filter voice (glottal pulses with breathiness, formant resonators, a
timbre peak) says a syllable sequence that depends on the command only, never
on the person. Used by pipelines.synthetic.
"""

import numpy as np
from scipy import signal

SAMPLE_RATE = 44100
SPEECH_END_SECONDS = 1.45  # speech always ends before this time (pipelines crop from the start)

# Vowel formants F1, F2, F3 (Hz) of an average adult voice.
VOWELS = np.array(
    [[270, 2290, 3010], [530, 1840, 2480], [730, 1090, 2440], [570, 840, 2410],
     [300, 870, 2240], [660, 1720, 2410], [490, 1350, 1690]],
    dtype=float,
)
# Consonants: none, "s", "sh", plosive burst, nasal murmur.
CONSONANTS = ("", "s", "sh", "p", "m")


def syllables(rng):
    """(consonant index, vowel index, relative length) for the words of one command.

    `rng` is the command's own generator, so a command always says the same words."""
    count = rng.integers(3, 6)
    return [(rng.integers(len(CONSONANTS)), rng.integers(len(VOWELS)), rng.uniform(0.8, 1.2))
            for _ in range(count)]


def speech(voice, syllables, rng, nuisance, n_samples):
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
