"""Audio corruptions: the SNR they set, their severities' order, each against a NumPy/scipy reference, the room
bank's reverberation time, reproducibility from the seeding fields, and one-line errors for bad arguments."""

import numpy as np
import pytest
import scipy.signal

from pipelines.corruptions.audio import (AUDIO_CORRUPTIONS, BANK_ROOMS, NOISE_LOW_HZ, _coloured_noise, _mu_law,
                                         corrupt_audio, room_impulse_response)
from pipelines.corruptions.seeding import SEVERITIES, corruption_rng

RATE = 16000


def speech_like(seconds=0.5, rate=RATE, f0=(120.0, 180.0), seed=0):
    """float32 [N]: a voiced harmonic sound (gliding f0, falling harmonics) in two syllables with a pause."""
    time = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(np.linspace(*f0, len(time))) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 30))
    syllables = np.sin(np.pi * np.clip(time / (0.45 * seconds), 0, 1)) + np.sin(
        np.pi * np.clip((time - 0.55 * seconds) / (0.45 * seconds), 0, 1))
    breath = 0.01 * np.random.default_rng(seed).standard_normal(len(time))
    signal = voice * syllables + breath
    return (0.5 * signal / np.max(np.abs(signal))).astype(np.float32)


CLEAN = speech_like()
BABBLE = [speech_like(0.3, f0=(200.0, 240.0), seed=1), speech_like(0.8, f0=(90.0, 110.0), seed=2),
          speech_like(0.4, f0=(150.0, 130.0), seed=3)]


def snr_db(clean, corrupted):
    clean, corrupted = clean.astype(np.float64), corrupted.astype(np.float64)
    return 10 * np.log10(np.mean(clean ** 2) / np.mean((corrupted - clean) ** 2))


def log_spectral_distance(clean, corrupted):
    """dB: the RMS over frequency of the log-power difference, averaged over frames (scipy STFT)."""
    power = [np.abs(scipy.signal.stft(x, RATE, nperseg=512)[2]) ** 2 + 1e-10 for x in (clean, corrupted)]
    return np.mean(np.sqrt(np.mean((10 * np.log10(power[0] / power[1])) ** 2, axis=0)))


def corrupt(name, severity, seed=0, waveform=CLEAN, rate=RATE):
    return corrupt_audio(waveform, rate, name, severity, np.random.default_rng(seed), babble=BABBLE)


@pytest.mark.parametrize("name", ["noise", "babble"])
def test_additive_corruptions_reach_the_severity_snr(name):
    for severity in SEVERITIES:
        target = AUDIO_CORRUPTIONS[name].level(severity)
        assert abs(snr_db(CLEAN, corrupt(name, severity)) - target) < 0.1


@pytest.mark.parametrize("name", sorted(AUDIO_CORRUPTIONS))
def test_every_corruption_distorts_more_at_each_severity(name):
    # The same rng seed at every severity: only the severity's parameter changes (reverb: the same room). Additive
    # noise, clipping and the telephone line are measured by their SNR against the clean waveform; reverberation,
    # whose delayed copies are no additive noise, by the share of its energy in the pause after a noise burst (a
    # harmonic sound would weigh the room's modes at a few frequencies instead of its decay).
    waveform = CLEAN
    if name == "reverb":
        burst = np.random.default_rng(0).uniform(-0.5, 0.5, len(CLEAN) // 2)
        waveform = np.concatenate([burst, np.zeros(len(CLEAN) // 2)]).astype(np.float32)
    outputs = [corrupt(name, severity, waveform=waveform) for severity in SEVERITIES]
    for output in outputs:
        assert output.dtype == np.float32 and output.shape == waveform.shape and np.isfinite(output).all()
    if name == "reverb":
        distortion = [np.sum(output[len(CLEAN) // 2:] ** 2.0) / np.sum(output ** 2.0) for output in outputs]
    else:
        distortion = [-snr_db(CLEAN, output) for output in outputs]
    assert np.all(np.diff(distortion) > 0), distortion


def test_coloured_noise_has_the_drawn_spectral_slope_and_no_rumble():
    count = 2 ** 16
    exponent = np.random.default_rng(3).uniform(0, 2)
    noise = _coloured_noise(count, RATE, np.random.default_rng(3))
    frequencies, density = scipy.signal.welch(noise, RATE, nperseg=4096)
    band = (frequencies >= 200) & (frequencies <= 6000)
    slope = np.polyfit(np.log10(frequencies[band]), np.log10(density[band]), 1)[0]
    assert abs(-slope - exponent) < 0.15, (slope, exponent)
    spectrum = np.abs(np.fft.rfft(noise))
    assert np.all(spectrum[np.fft.rfftfreq(count, 1 / RATE) < NOISE_LOW_HZ] < 1e-9)


@pytest.mark.parametrize("length", [0.1, 0.8])
def test_babble_sums_each_talker_from_an_offset_at_equal_power(length):
    # Talkers shorter than the waveform are tiled, longer ones cut; each enters at its whole recording's power.
    babble = [speech_like(length, f0=(200.0, 240.0), seed=4), speech_like(length / 2, seed=5)]
    got = corrupt_audio(CLEAN, RATE, "babble", 3, np.random.default_rng(9), babble=babble)
    draws = np.random.default_rng(9)
    mix = np.zeros(len(CLEAN))
    for talker in babble:
        talker = talker.astype(np.float64)
        start = draws.integers(len(talker))
        mix += talker[(start + np.arange(len(CLEAN))) % len(talker)] / np.sqrt(np.mean(talker ** 2))
    mix *= np.sqrt(np.mean(CLEAN.astype(np.float64) ** 2) / np.mean(mix ** 2) / 10)  # severity 3: 10 dB
    np.testing.assert_allclose(got, CLEAN + mix, atol=1e-6)


def schroeder_rt60(response, rate):
    """s: -60 / the slope (dB/s) of Schroeder's backward-integrated energy decay between -5 and -25 dB (T20)."""
    decay = 10 * np.log10(np.cumsum(response[::-1] ** 2)[::-1] / np.sum(response ** 2))
    start, stop = np.argmax(decay <= -5), np.argmax(decay <= -25)
    return -60 / np.polyfit(np.arange(start, stop) / rate, decay[start:stop], 1)[0]


@pytest.mark.parametrize("rt60", AUDIO_CORRUPTIONS["reverb"].levels)
def test_a_bank_room_reverberates_for_its_rt60(rt60):
    response = room_impulse_response(RATE, rt60, 0)
    assert abs(schroeder_rt60(response, RATE) / rt60 - 1) < 0.2
    assert np.argmax(np.abs(response)) == 0  # starts at the direct path
    assert not response.flags.writeable


def test_reverb_keeps_the_rms_and_the_timing():
    click = np.zeros(4000, np.float32)
    click[1000] = 0.5
    rng = np.random.default_rng(0)
    room = np.random.default_rng(0).integers(BANK_ROOMS)
    got = corrupt_audio(click, RATE, "reverb", 1, rng)
    response = room_impulse_response(RATE, 0.2, room)[:3000]
    np.testing.assert_allclose(got[1000:], 0.5 * response / np.sqrt(np.sum(response ** 2)), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got[:1000], 0, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.mean(np.square(got, dtype=np.float64))), np.sqrt(0.25 / 4000), rtol=1e-5)


def test_clipping_cuts_at_a_share_of_the_peak_and_keeps_the_rms():
    for severity in SEVERITIES:
        share = AUDIO_CORRUPTIONS["clipping"].level(severity)
        got = corrupt("clipping", severity).astype(np.float64)
        threshold = share * np.max(np.abs(CLEAN))
        expected = np.minimum(np.maximum(CLEAN, -threshold), threshold).astype(np.float64)
        expected *= np.sqrt(np.mean(CLEAN.astype(np.float64) ** 2) / np.mean(expected ** 2))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
        assert np.max(np.abs(got)) <= np.max(np.abs(CLEAN))


def tone(frequency, rate=RATE, seconds=0.5):
    return (0.3 * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


@pytest.mark.parametrize("rate", [16000, 44100])
def test_telephone_passes_the_voice_band_only(rate):
    def gain_db(frequency):
        clean = tone(frequency, rate)
        middle = slice(len(clean) // 4, 3 * len(clean) // 4)  # away from the filter's edges
        got = corrupt_audio(clean, rate, "telephone", 1, np.random.default_rng(0))
        assert got.shape == clean.shape and got.dtype == np.float32
        return 10 * np.log10(np.mean(got[middle].astype(np.float64) ** 2) / np.mean(clean[middle] ** 2.0) + 1e-30)

    assert abs(gain_db(1000)) < 0.5
    assert gain_db(100) < -20
    assert gain_db(6000) < -40


def test_mu_law_codes_with_fewer_levels_and_more_error_for_fewer_bits():
    ramp = np.linspace(-1, 1, 20001)
    errors = []
    for bits in AUDIO_CORRUPTIONS["telephone"].levels:
        coded = _mu_law(ramp, bits)
        assert len(np.unique(np.round(coded, 12))) == 2 ** bits - 1
        errors.append(np.sqrt(np.mean((coded - ramp) ** 2)))
        # The companding is logarithmic: quiet samples are coded with finer steps than loud ones.
        assert np.max(np.abs(coded - ramp)[np.abs(ramp) < 0.05]) < np.max(np.abs(coded - ramp)[np.abs(ramp) > 0.5])
    assert np.all(np.diff(errors) > 0)
    np.testing.assert_allclose(_mu_law(np.array([0.0, 1.0, -1.0, 2.0]), 8), [0.0, 1.0, -1.0, 1.0], atol=1e-12)


@pytest.mark.parametrize("name", sorted(AUDIO_CORRUPTIONS))
def test_same_seeding_fields_give_the_same_bytes_and_another_recording_other_noise(name):
    def corrupted(recording):
        return corrupt_audio(CLEAN, RATE, name, 2, corruption_rng(recording, "audio", name, 2, 0), babble=BABBLE)

    assert corrupted("rec_a").tobytes() == corrupted("rec_a").tobytes()
    if name in ("noise", "babble"):
        assert not np.allclose(corrupted("rec_a"), corrupted("rec_b"))
    if name == "reverb":  # the bank holds BANK_ROOMS rooms: recordings spread over several of them
        assert len({corrupted(f"rec_{index}").tobytes() for index in range(6)}) > 1


GOOD = dict(waveform=CLEAN, sample_rate=RATE, name="noise", severity=1)


@pytest.mark.parametrize("changes, argument", [
    (dict(name="fog"), "name"),
    (dict(severity=0), "severity"),
    (dict(severity=6), "severity"),
    (dict(severity=2.5), "severity"),
    (dict(waveform=np.zeros(0, np.float32)), "waveform"),
    (dict(waveform=np.zeros((2, 100), np.float32)), "waveform"),
    (dict(waveform=np.arange(100)), "waveform"),
    (dict(waveform=np.array([0.1, np.nan, 0.2], np.float32)), "waveform"),
    (dict(waveform=np.zeros(100, np.float32)), "waveform"),  # silent: no power to set an SNR against
    (dict(waveform=np.array([0.5], np.float32)), "waveform"),
    # rng's first draw, 850, starts the babble in its silent part (a click at sample 999 only)
    (dict(name="babble", waveform=np.full(4, 0.1, np.float32), babble=[np.eye(1000)[999]]), "babble"),
    (dict(sample_rate=0), "sample_rate"),
    (dict(sample_rate=16000.0), "sample_rate"),
    (dict(rng=0), "rng"),
    (dict(name="babble"), "babble"),
    (dict(name="babble", babble=[]), "babble"),
    (dict(name="babble", babble=[tone(300), np.zeros(50, np.float32)]), r"babble\[1\]"),
    (dict(name="babble", babble=[np.array([np.inf], np.float32)]), r"babble\[0\]"),
    (dict(name="telephone", sample_rate=6000), "sample_rate"),
])
def test_bad_arguments_raise_a_one_line_error_naming_them(changes, argument):
    with pytest.raises(ValueError, match=argument) as error:
        corrupt_audio(**{**GOOD, "rng": np.random.default_rng(0), **changes})
    assert "\n" not in str(error.value)
