"""Tests for pipelines.audio: decoding (formats, rates, RIFF chunk layouts, channels, bad files),
resampling, the speech window, load_waveform, and log-mel against librosa; plus every file of the shared
espeak_speakers test set."""

import csv
import os
import pathlib
import struct

import librosa
import numpy as np
import pytest
import soundfile
import soxr

from pipelines import audio
from pipelines.errors import DataError

# The read-only set of real speech files (WAV/FLAC, broadcast chunks); never copied into the project.
ESPEAK_DIR = pathlib.Path(os.environ.get("AVTFUSE_ESPEAK_DIR", "/work/shared/data/espeak_speakers"))


def _tones(sample_rate, seconds, frequencies=(300.0, 1000.0, 2500.0), amplitude=0.25, seed=0):
    """A few sines with random phases, float32 [N] in [-1, 1] (peak <= amplitude * len(frequencies))."""
    rng = np.random.default_rng(seed)
    time = np.arange(round(sample_rate * seconds)) / sample_rate
    signal = sum(amplitude * np.sin(2 * np.pi * f * time + rng.uniform(0, 2 * np.pi)) for f in frequencies)
    return signal.astype(np.float32)


def _sine(sample_rate, seconds, frequency, amplitude=0.5):
    time = np.arange(round(sample_rate * seconds)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * time)).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------
# Formats and sample rates


def _quantisation_step(subtype):
    """One step of the format's integer grid in [-1, 1] (0 for float formats)."""
    bits = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}.get(subtype)
    return 0.0 if bits is None else 2.0 ** (1 - bits)


@pytest.mark.parametrize(
    "suffix, container, subtype",
    [
        (".wav", "WAV", "PCM_U8"),
        (".wav", "WAV", "PCM_16"),
        (".wav", "WAV", "PCM_24"),
        (".wav", "WAV", "PCM_32"),
        (".wav", "WAV", "FLOAT"),
        (".wav", "WAV", "DOUBLE"),
        (".wav", "WAVEX", "PCM_16"),
        (".wav", "WAVEX", "PCM_24"),
        (".wav", "WAVEX", "FLOAT"),
        (".flac", "FLAC", "PCM_16"),
        (".flac", "FLAC", "PCM_24"),
        (".rf64", "RF64", "PCM_16"),
        (".w64", "W64", "PCM_24"),
        (".aiff", "AIFF", "PCM_16"),
    ],
)
def test_read_audio_lossless_formats(tmp_path, suffix, container, subtype):
    written = 0.9 * _tones(44100, 0.2, amplitude=0.3)
    path = tmp_path / f"clip{suffix}"
    soundfile.write(path, written, 44100, format=container, subtype=subtype)
    assert soundfile.info(str(path)).subtype == subtype  # the file really is in the format under test
    samples, rate = audio.read_audio(path)
    assert rate == 44100
    assert samples.dtype == np.float32 and samples.shape == written.shape
    # libsndfile writes with scale 2^(b-1) - 1 and reads with 2^(b-1): up to ~1.5 steps apart.
    tolerance = 2 * _quantisation_step(subtype) or 1e-7
    np.testing.assert_allclose(samples, written, atol=tolerance, rtol=0)


@pytest.mark.parametrize("sample_rate", [8000, 16000, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize("suffix, container, subtype", [(".wav", "WAV", "PCM_16"), (".flac", "FLAC", "PCM_24"),
                                                        (".wav", "WAV", "FLOAT")])
def test_read_audio_any_sample_rate(tmp_path, sample_rate, suffix, container, subtype):
    written = _tones(sample_rate, 0.05, frequencies=(sample_rate / 40,), amplitude=0.5)
    path = tmp_path / f"clip{suffix}"
    soundfile.write(path, written, sample_rate, format=container, subtype=subtype)
    samples, rate = audio.read_audio(str(path))
    assert rate == sample_rate
    np.testing.assert_allclose(samples, written, atol=2 * _quantisation_step(subtype) or 1e-7, rtol=0)


def test_read_audio_suffix_is_case_insensitive(tmp_path):
    written = _tones(16000, 0.05)
    path = tmp_path / "CLIP.WAV"
    soundfile.write(path, written, 16000, format="WAV", subtype="FLOAT")
    samples, rate = audio.read_audio(path)
    assert rate == 16000
    np.testing.assert_array_equal(samples, written)


def _assert_lossy_match(samples, written):
    """Lossy codecs: same length (encoder delay removed), correlation > 0.9, energy within 10 %."""
    assert samples.dtype == np.float32
    assert len(samples) == len(written)
    assert np.corrcoef(samples, written)[0, 1] > 0.9
    assert 0.9 < np.sum(samples ** 2) / np.sum(written ** 2) < 1.1


@pytest.mark.parametrize(
    "suffix, subtype, sample_rate",
    [
        (".ogg", "VORBIS", 44100),
        (".ogg", "VORBIS", 16000),
        # Opus codes at 48 kHz inside; libsndfile decodes to the input rate recorded in the OpusHead
        # (one of 8, 12, 16, 24, 48 kHz), so a 16 kHz file comes back at 16 kHz.
        (".opus", "OPUS", 48000),
        (".opus", "OPUS", 16000),
    ],
)
def test_read_audio_ogg_vorbis_and_opus(tmp_path, suffix, subtype, sample_rate):
    written = _tones(sample_rate, 0.5)
    path = tmp_path / f"clip{suffix}"
    soundfile.write(path, written, sample_rate, format="OGG", subtype=subtype)
    samples, rate = audio.read_audio(path)
    assert rate == sample_rate
    _assert_lossy_match(samples, written)


def test_read_audio_mp3(tmp_path):
    path = tmp_path / "clip.mp3"
    if "MP3" not in soundfile.available_formats():
        # This libsndfile (< 1.1) has no MP3 decoder: read_audio must say so clearly, naming the file.
        path.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(400))
        with pytest.raises(DataError, match="cannot read audio") as caught:
            audio.read_audio(path)
        assert path.name in str(caught.value)
        return
    written = _tones(44100, 0.5)
    soundfile.write(path, written, 44100, format="MP3")
    samples, rate = audio.read_audio(path)
    assert rate == 44100
    _assert_lossy_match(samples, written)


# ---------------------------------------------------------------------------------------------------------
# Broadcast-WAV chunk layouts, built by hand


def _chunk(chunk_id, payload):
    """One RIFF chunk: id, little-endian size, payload and the pad byte an odd size needs."""
    assert len(chunk_id) == 4
    return chunk_id + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def _fmt_pcm(channels, rate, bits):
    block = channels * bits // 8
    return _chunk(b"fmt ", struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, bits))


def _fmt_extensible(channels, rate, bits):
    block = channels * bits // 8
    pcm_guid = struct.pack("<IHH", 1, 0x0000, 0x0010) + bytes([0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71])
    return _chunk(b"fmt ", struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits,
                                       0x4 if channels == 1 else 0x3) + pcm_guid)


def _bext():
    """A broadcast-extension chunk (EBU Tech 3285 v1 layout) with a coding-history line."""
    return _chunk(b"bext", b"avtfuse test".ljust(256, b"\0") + b"orig".ljust(32, b"\0") + b"ref".ljust(32, b"\0")
                  + b"2024-01-01" + b"12:00:00" + struct.pack("<QH", 0, 1) + bytes(64) + bytes(10) + bytes(180)
                  + b"A=PCM,F=16000,W=16,M=mono\r\n")


def _list_info():
    return _chunk(b"LIST", b"INFO" + _chunk(b"ISFT", b"avtfuse\0") + _chunk(b"INAM", b"odd\0\0"))


def _riff(chunks):
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _pcm16(frames=1001, channels=1, seed=0):
    return np.random.default_rng(seed).integers(-32768, 32768, (frames, channels), dtype=np.int16)


_PCM16 = _pcm16()
_DATA16 = _chunk(b"data", _PCM16.tobytes())

BWF_LAYOUTS = {
    "junk_fllr_bext_before_data": [_fmt_pcm(1, 16000, 16), _chunk(b"JUNK", bytes(28)), _chunk(b"FLLR", bytes(512)),
                                   _bext(), _DATA16],
    "list_ixml_vendor_after_data": [_fmt_pcm(1, 16000, 16), _DATA16, _list_info(),
                                    _chunk(b"iXML", b"<?xml version=\"1.0\"?><BWFXML></BWFXML>"),
                                    _chunk(b"avtf", b"vendor payload")],
    "odd_sized_chunks_with_pad_bytes": [_fmt_pcm(1, 16000, 16), _chunk(b"odd ", b"xyz"), _DATA16,
                                        _chunk(b"tail", b"q")],
    "fmt_extensible": [_fmt_extensible(1, 16000, 16), _chunk(b"JUNK", bytes(10)), _DATA16, _list_info()],
    "everything": [_chunk(b"JUNK", bytes(92)), _fmt_extensible(1, 16000, 16), _chunk(b"FLLR", bytes(512)), _bext(),
                   _chunk(b"odd ", b"abcde"), _DATA16, _list_info(), _chunk(b"iXML", b"<BWFXML/>"),
                   _chunk(b"avtf", b"v")],
}


@pytest.mark.parametrize("layout", sorted(BWF_LAYOUTS))
def test_read_audio_broadcast_wav_chunk_layouts(tmp_path, layout):
    path = tmp_path / f"{layout}.wav"
    path.write_bytes(_riff(BWF_LAYOUTS[layout]))
    samples, rate = audio.read_audio(path)
    assert rate == 16000
    np.testing.assert_array_equal(samples, _PCM16[:, 0].astype(np.float32) / 32768)


@pytest.mark.parametrize("riff_size", [0xFFFFFFFF, None])
def test_read_audio_streamed_wav_with_unknown_data_size(tmp_path, riff_size):
    """A WAV written to a pipe (ffmpeg) leaves the data size at 0xFFFFFFFF: not a truncated file."""
    body = b"WAVE" + _fmt_pcm(1, 16000, 16) + b"data" + struct.pack("<I", 0xFFFFFFFF) + _PCM16.tobytes()
    path = tmp_path / "streamed.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body)
    samples, rate = audio.read_audio(path)
    assert rate == 16000
    np.testing.assert_array_equal(samples, _PCM16[:, 0].astype(np.float32) / 32768)


def test_read_audio_odd_sized_data_chunk_missing_its_final_pad_byte(tmp_path):
    """Writers often leave out the pad byte after a last, odd-sized data chunk: every sample is still there."""
    raw = np.random.default_rng(2).integers(0, 256, 1001, dtype=np.uint8)
    path = tmp_path / "nopad.wav"
    path.write_bytes(_riff([_fmt_pcm(1, 8000, 8), _chunk(b"data", raw.tobytes())])[:-1])
    samples, _ = audio.read_audio(path)
    np.testing.assert_array_equal(samples, (raw.astype(np.float32) - 128) / 128)


def test_read_audio_odd_sized_8bit_data_chunk_then_list(tmp_path):
    """An odd number of 8-bit frames: the data chunk carries a pad byte before the next chunk."""
    raw = np.random.default_rng(1).integers(0, 256, 1001, dtype=np.uint8)
    path = tmp_path / "odd8.wav"
    path.write_bytes(_riff([_fmt_pcm(1, 8000, 8), _chunk(b"data", raw.tobytes()), _list_info()]))
    samples, rate = audio.read_audio(path)
    assert rate == 8000
    np.testing.assert_array_equal(samples, (raw.astype(np.float32) - 128) / 128)


# ---------------------------------------------------------------------------------------------------------
# Channels


def test_read_audio_stereo_is_mean_of_channels(tmp_path):
    left, right = _sine(16000, 0.2, 440.0, 0.6), _sine(16000, 0.2, 1000.0, 0.3)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    samples, rate = audio.read_audio(path)
    assert rate == 16000 and samples.shape == left.shape
    np.testing.assert_allclose(samples, (left + right) / 2, atol=1e-7, rtol=0)
    assert np.abs(samples - left).max() > 0.1  # not just the first channel


@pytest.mark.parametrize("container", ["WAV", "WAVEX", "FLAC"])
def test_read_audio_six_channels_is_mean_of_channels(tmp_path, container):
    channels = np.stack([_sine(48000, 0.1, 200.0 * (c + 1), 0.15 * (c + 1)) for c in range(6)], axis=1)
    path = tmp_path / ("surround.flac" if container == "FLAC" else "surround.wav")
    soundfile.write(path, channels, 48000, format=container, subtype="PCM_16")
    samples, rate = audio.read_audio(path)
    assert rate == 48000 and samples.shape == (len(channels),)
    np.testing.assert_allclose(samples, channels.mean(axis=1), atol=2 * 2.0 ** -15, rtol=0)


# ---------------------------------------------------------------------------------------------------------
# Bad files


def _write_bad_audio(tmp_path, kind):
    """Writes one kind of bad audio file and returns its path."""
    clip = _tones(16000, 0.1)
    if kind == "missing":
        return tmp_path / "missing.wav"
    if kind == "empty":
        path = tmp_path / "empty.wav"
        path.write_bytes(b"")
        return path
    if kind == "suffix":
        path = tmp_path / "clip.mp4"
        soundfile.write(path, clip, 16000, format="WAV", subtype="PCM_16")  # readable, but not an audio suffix
        return path
    if kind == "garbage":
        path = tmp_path / "garbage.wav"
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
        return path
    if kind in ("truncated_wav", "truncated_flac", "truncated_rf64", "truncated_aiff"):
        path = tmp_path / f"truncated.{kind.split('_')[1]}"
        soundfile.write(path, clip, 16000, subtype="PCM_16")
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return path
    if kind == "truncated_bwf":  # FLLR + bext before data, LIST after it; cut inside data
        path = tmp_path / "truncated_bwf.wav"
        data = _riff([_fmt_pcm(1, 16000, 16), _chunk(b"FLLR", bytes(512)), _bext(), _DATA16, _list_info()])
        path.write_bytes(data[: len(data) * 2 // 3])
        return path
    if kind in ("nan", "inf"):
        path = tmp_path / f"{kind}.wav"
        clip[:] = np.nan if kind == "nan" else np.inf
        soundfile.write(path, clip, 16000, subtype="FLOAT")
        return path
    assert kind == "zero_frames"
    path = tmp_path / "zero_frames.wav"
    soundfile.write(path, np.zeros((0, 1), np.float32), 16000, subtype="PCM_16")
    assert path.stat().st_size > 0
    return path


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing", "not found"),
        ("empty", "empty audio file"),
        ("suffix", "unsupported audio suffix '.mp4'"),
        ("garbage", "cannot read audio"),
        ("truncated_wav", "truncated"),
        ("truncated_bwf", "truncated"),
        ("truncated_flac", "cannot read audio|truncated"),
        ("truncated_rf64", "truncated"),
        ("truncated_aiff", "truncated"),
        ("nan", "NaN"),
        ("inf", "infinite"),
        ("zero_frames", "no samples"),
    ],
)
def test_read_audio_rejects_bad_files(tmp_path, kind, reason):
    path = _write_bad_audio(tmp_path, kind)
    with pytest.raises(DataError, match=reason) as caught:
        audio.read_audio(path)
    assert str(path) in str(caught.value)
    assert caught.value.path == str(path)
    with pytest.raises(DataError, match=reason):  # load_waveform surfaces the same error
        audio.load_waveform(path, 16000, 1600)


# ---------------------------------------------------------------------------------------------------------
# Resampling


def test_resample_keeps_frequency_and_length():
    signal = _sine(48000, 1.0, 1000.0)
    resampled = audio.resample(signal, 48000, 44100)
    assert resampled.dtype == np.float32
    assert len(resampled) == round(len(signal) * 44100 / 48000)
    frequencies = np.fft.rfftfreq(len(resampled), 1 / 44100)
    peak = frequencies[np.argmax(np.abs(np.fft.rfft(resampled)))]
    assert abs(peak - 1000.0) <= 1.0  # 1 Hz bins over one second
    interior = resampled[1000:-1000]
    np.testing.assert_allclose(np.abs(interior).max(), 0.5, atol=0.01)  # amplitude kept


@pytest.mark.parametrize("source_rate, target_rate, length", [(48000, 44100, 4800), (22050, 16000, 3001),
                                                              (8000, 44100, 777)])
def test_resample_is_soxr_hq(source_rate, target_rate, length):
    signal = np.random.default_rng(3).uniform(-0.5, 0.5, length).astype(np.float32)
    ours = audio.resample(signal, source_rate, target_rate)
    reference = soxr.resample(signal, source_rate, target_rate, quality="HQ")
    assert ours.dtype == np.float32
    assert len(ours) == round(length * target_rate / source_rate)
    np.testing.assert_array_equal(ours, reference)


def test_resample_same_rate_returns_input():
    signal = _tones(16000, 0.1)
    result = audio.resample(signal, 16000, 16000)
    assert result is signal


# ---------------------------------------------------------------------------------------------------------
# The speech window


def test_speech_window_start():
    signal = np.arange(1, 11, dtype=np.float32)
    np.testing.assert_array_equal(audio.speech_window(signal, 4, "start"), signal[:4])
    np.testing.assert_array_equal(audio.speech_window(signal, 10, "start"), signal)
    np.testing.assert_array_equal(audio.speech_window(signal, 13, "start"),
                                  np.concatenate([signal, np.zeros(3, np.float32)]))


def test_speech_window_center():
    signal = np.arange(1, 11, dtype=np.float32)
    np.testing.assert_array_equal(audio.speech_window(signal, 4, "center"), signal[3:7])
    np.testing.assert_array_equal(audio.speech_window(signal, 5, "center"), signal[2:7])
    padded = audio.speech_window(signal, 15, "center")
    np.testing.assert_array_equal(padded, np.concatenate([np.zeros(2), signal, np.zeros(3)]))
    # "center" keeps leading silence that "trim" would cut
    with_silence = np.concatenate([np.zeros(100, np.float32), np.ones(20, np.float32)])
    np.testing.assert_array_equal(audio.speech_window(with_silence, 40, "center"), with_silence[40:80])


def _silence_tone_silence(sample_rate, tone_seconds, noise_db=None):
    """0.8 s silence (or noise at noise_db dBFS RMS), a 440 Hz tone, 0.7 s silence; and the tone's centre."""
    lead, tail = int(0.8 * sample_rate), int(0.7 * sample_rate)
    tone = _sine(sample_rate, tone_seconds, 440.0, 0.5)
    signal = np.concatenate([np.zeros(lead, np.float32), tone, np.zeros(tail, np.float32)])
    if noise_db is not None:
        noise = 10 ** (noise_db / 20) * np.random.default_rng(4).standard_normal(len(signal))
        signal = (signal + noise).astype(np.float32)
    return signal, lead + len(tone) / 2


@pytest.mark.parametrize("noise_db", [None, -50.0])
def test_speech_window_trim_centres_short_speech(noise_db):
    sample_rate, hop = 16000, 512
    signal, tone_centre = _silence_tone_silence(sample_rate, 0.5, noise_db)
    window = audio.speech_window(signal, sample_rate, "trim")
    assert window.dtype == np.float32 and window.shape == (sample_rate,)
    if noise_db is None:
        # zeros are silence or padding; the tone's own zero crossings sit inside it
        inside = np.flatnonzero(window)
        located = inside[0] - np.flatnonzero(signal)[0]
    else:
        # every signal sample is non-zero: the zeros at either end are exactly the padding
        inside = np.flatnonzero(window)
        left, right = inside[0], len(window) - 1 - inside[-1]
        assert left > 0 and right > 0 and abs(left - right) <= 1  # symmetric zero padding
        assert len(inside) == inside[-1] - inside[0] + 1  # one contiguous piece of the signal
        start = int(np.flatnonzero(signal == window[left])[0])
        np.testing.assert_array_equal(window[left:inside[-1] + 1], signal[start:start + len(inside)])
        located = left - start
    # located: the window's index of signal sample 0, so the tone's centre sits at tone_centre + located
    assert abs(tone_centre + located - sample_rate / 2) <= hop


def test_speech_window_trim_cuts_long_speech_to_its_centre():
    sample_rate, hop = 16000, 512
    signal, tone_centre = _silence_tone_silence(sample_rate, 1.5, noise_db=-50.0)
    window = audio.speech_window(signal, sample_rate, "trim")
    assert window.shape == (sample_rate,) and np.all(window != 0)  # no padding
    start = int(np.flatnonzero(signal == window[0])[0])
    np.testing.assert_array_equal(window, signal[start:start + sample_rate])
    assert abs(start + sample_rate / 2 - tone_centre) <= hop
    assert np.abs(window).max() > 0.4  # all speech, no silence from either end
    assert int(0.8 * sample_rate) <= start and start + sample_rate <= int(2.3 * sample_rate)


def test_speech_window_trim_db_sets_the_silence_threshold():
    sample_rate = 16000
    quiet = _sine(sample_rate, 0.5, 440.0, 0.5 * 10 ** (-25 / 20))  # 25 dB below the loud part
    loud = _sine(sample_rate, 0.5, 440.0, 0.5)
    silence = np.zeros(sample_rate // 2, np.float32)
    signal = np.concatenate([silence, quiet, loud, silence])

    def kept_seconds(trim_db):
        window = audio.speech_window(signal, 3 * sample_rate, "trim", trim_db=trim_db)
        inside = np.flatnonzero(window)
        return (inside[-1] - inside[0] + 1) / sample_rate

    assert 0.95 <= kept_seconds(30.0) <= 1.15  # quiet segment kept
    assert 0.45 <= kept_seconds(20.0) <= 0.65  # quiet segment cut as silence


def test_speech_window_trim_all_silent_gives_zeros():
    window = audio.speech_window(np.zeros(30000, np.float32), 16000, "trim")
    np.testing.assert_array_equal(window, np.zeros(16000, np.float32))


@pytest.mark.parametrize("crop", ["middle", "TRIM", ""])
def test_speech_window_rejects_bad_crop(crop):
    with pytest.raises(ValueError, match="crop"):
        audio.speech_window(np.zeros(100, np.float32), 10, crop)


# ---------------------------------------------------------------------------------------------------------
# load_waveform


@pytest.mark.parametrize("crop", audio.AUDIO_CROPS)
def test_load_waveform_chains_read_resample_window(tmp_path, crop):
    signal, _ = _silence_tone_silence(44100, 0.5)
    path = tmp_path / "speech.flac"
    soundfile.write(path, signal, 44100, subtype="PCM_24")
    waveform = audio.load_waveform(path, 16000, 24000, crop=crop)
    assert waveform.dtype == np.float32 and waveform.shape == (24000,)
    samples, rate = audio.read_audio(path)
    expected = audio.speech_window(audio.resample(samples, rate, 16000), 24000, crop)
    np.testing.assert_array_equal(waveform, expected)
    assert np.abs(waveform).max() > 0.4  # the tone is inside the window for every crop


def test_load_waveform_corrupts_the_whole_recording_before_the_silence_trim(tmp_path):
    signal, _ = _silence_tone_silence(16000, 0.5)
    path = tmp_path / "speech.wav"
    soundfile.write(path, signal, 16000, subtype="FLOAT")
    seen = []

    def loud_hum(samples):
        seen.append(len(samples))
        return samples + 0.5 * np.sin(np.arange(len(samples)) / 3.0).astype(np.float32)

    window = audio.load_waveform(path, 16000, 2 * len(signal), crop="trim", corrupt=loud_hum)
    assert seen == [len(signal)]  # the whole recording, not the window
    # the hum as loud as the tone: nothing is trimmed, so the window holds the hum where the clean one is padding
    clean = audio.load_waveform(path, 16000, 2 * len(signal), crop="trim")
    expected = audio.speech_window(loud_hum(signal), 2 * len(signal), "trim")
    np.testing.assert_allclose(window, expected, atol=1e-6)
    assert np.count_nonzero(window) > np.count_nonzero(clean) + len(signal) // 2


def test_load_waveform_same_rate_short_file(tmp_path):
    written = _tones(16000, 0.25)
    path = tmp_path / "short.wav"
    soundfile.write(path, written, 16000, subtype="FLOAT")
    waveform = audio.load_waveform(path, 16000, 8000, crop="start")
    np.testing.assert_array_equal(waveform, np.concatenate([written, np.zeros(4000, np.float32)]))


# ---------------------------------------------------------------------------------------------------------
# Log-mel


def _librosa_log_mel(waveform, sample_rate, n_mels, n_fft=2048, hop_length=512, top_db=80.0):
    mel = librosa.feature.melspectrogram(
        y=waveform, sr=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
    )
    return librosa.power_to_db(mel, top_db=top_db).T


def _noisy_tones(sample_rate, seconds, frequencies=(300.0, 2000.0, 5000.0), seed=0):
    rng = np.random.default_rng(seed)
    signal = _tones(sample_rate, seconds, frequencies, seed=seed)
    return (signal + 0.01 * rng.standard_normal(len(signal))).astype(np.float32)


@pytest.mark.parametrize(
    "sample_rate, n_mels, n_fft, hop_length, kind",
    [
        (16000, 40, 2048, 512, "noise"),
        (22050, 128, 2048, 512, "sine"),
        (16000, 64, 1024, 256, "sine"),
        (22050, 128, 2048, 512, "silence"),
        (44100, 128, 2048, 512, "sine"),
    ],
)
def test_log_mel_matches_librosa(sample_rate, n_mels, n_fft, hop_length, kind):
    rng = np.random.default_rng(1)
    if kind == "noise":
        waveform = 0.3 * rng.standard_normal(9000).astype(np.float32)
    elif kind == "sine":
        waveform = _noisy_tones(sample_rate, 0.5)
    else:
        waveform = np.zeros(7000, np.float32)
    ours = audio.log_mel_spectrogram(
        waveform, sample_rate, n_mels=n_mels, n_fft=n_fft, hop_length=hop_length
    ).numpy()
    reference = _librosa_log_mel(waveform, sample_rate, n_mels, n_fft, hop_length)
    assert ours.dtype == np.float32
    assert ours.shape == reference.shape == (audio.num_frames(len(waveform), hop_length), n_mels)
    np.testing.assert_allclose(ours, reference, atol=0.01, rtol=0)


def test_log_mel_without_top_db_clamp_matches_librosa():
    waveform = _noisy_tones(16000, 0.3, seed=5)
    waveform[:2000] = 0  # a silent stretch falls far below max - 80 dB without the clamp
    ours = audio.log_mel_spectrogram(waveform, 16000, n_mels=40, top_db=None).numpy()
    reference = _librosa_log_mel(waveform, 16000, 40, top_db=None)
    assert ours.min() < ours.max() - 80.0
    np.testing.assert_allclose(ours, reference, atol=0.01, rtol=0)


def test_log_mel_batched_clamps_each_clip():
    loud = _noisy_tones(16000, 0.3, seed=2)
    quiet = 0.05 * _noisy_tones(16000, 0.3, frequencies=(700.0,), seed=3)  # ~25 dB below loud
    loud[:2000] = quiet[:2000] = 0  # a silent stretch in each: the 80 dB clamp applies to both
    batched = audio.log_mel_spectrogram(np.stack([loud, quiet]), 16000, n_mels=40).numpy()
    assert batched.shape == (2, audio.num_frames(len(loud), 512), 40)
    for clip, ours in zip((loud, quiet), batched):
        np.testing.assert_allclose(ours.min(), ours.max() - 80.0, atol=1e-3)  # each clip its own floor
        np.testing.assert_allclose(ours, _librosa_log_mel(clip, 16000, 40), atol=0.01, rtol=0)


def test_log_mel_nested_batch_shape():
    waveforms = np.random.default_rng(6).uniform(-0.5, 0.5, (2, 3, 4000)).astype(np.float32)
    batched = audio.log_mel_spectrogram(waveforms, 16000, n_mels=32, n_fft=512, hop_length=160).numpy()
    assert batched.shape == (2, 3, audio.num_frames(4000, 160), 32)
    single = audio.log_mel_spectrogram(waveforms[1, 2], 16000, n_mels=32, n_fft=512, hop_length=160).numpy()
    np.testing.assert_allclose(batched[1, 2], single, atol=1e-4, rtol=0)


@pytest.mark.parametrize("num_samples, hop_length, frames", [(301056, 512, 589), (16000, 512, 32), (512, 512, 2),
                                                             (511, 512, 1), (4000, 160, 26)])
def test_num_frames_matches_librosa(num_samples, hop_length, frames):
    assert audio.num_frames(num_samples, hop_length) == frames
    stft = librosa.stft(np.zeros(num_samples, np.float32), n_fft=256, hop_length=hop_length)
    assert stft.shape[1] == frames


def test_log_mel_rejects_odd_n_fft():
    with pytest.raises(ValueError, match="n_fft"):
        audio.log_mel_spectrogram(np.zeros(4000, np.float32), 16000, n_fft=1001)


# ---------------------------------------------------------------------------------------------------------
# MFCC


def _sa_fusion_clip(seed=0):
    """3.6 s at 22.05 kHz (SA-fusion's 79,380 samples): a modulated tone, a high tone, noise, a silent start."""
    rng = np.random.default_rng(seed)
    t = np.arange(79380) / 22050
    clip = 0.3 * np.sin(2 * np.pi * (220 + 50 * seed) * t) * np.sin(2 * np.pi * 1.3 * t) \
        + 0.2 * np.sin(2 * np.pi * 3100 * t) + 0.02 * rng.standard_normal(t.size)
    clip[:5000] = 0
    return clip.astype(np.float32)


def test_mfcc_matches_librosa_on_sa_fusion_clips():
    """Measured: max |difference| 9e-5 on values up to 580."""
    clips = np.stack([_sa_fusion_clip(0), 0.1 * _sa_fusion_clip(1)])
    batched = audio.mfcc(clips, 22050).numpy()
    assert batched.dtype == np.float32 and batched.shape == (2, 156, 10)
    for clip, ours in zip(clips, batched):
        reference = librosa.feature.mfcc(y=clip, sr=22050, n_mfcc=10).T
        assert np.abs(reference).max() > 100
        np.testing.assert_allclose(ours, reference, atol=1e-3, rtol=0)
    np.testing.assert_allclose(audio.mfcc(clips[1], 22050).numpy(), batched[1], atol=1e-4, rtol=0)


def test_mfcc_other_settings_match_librosa():
    clip = _noisy_tones(16000, 0.5, seed=4)
    ours = audio.mfcc(clip, 16000, n_mfcc=20, n_mels=40, n_fft=512, hop_length=160, top_db=None).numpy()
    log_mel = _librosa_log_mel(clip, 16000, 40, n_fft=512, hop_length=160, top_db=None)
    reference = librosa.feature.mfcc(S=log_mel.T, n_mfcc=20).T
    assert ours.shape == (audio.num_frames(len(clip), 160), 20)
    np.testing.assert_allclose(ours, reference, atol=1e-3, rtol=0)


@pytest.mark.parametrize("n_mfcc", [0, 41])
def test_mfcc_rejects_n_mfcc_outside_the_mel_bands(n_mfcc):
    with pytest.raises(ValueError, match="n_mfcc must be between 1 and n_mels = 40"):
        audio.mfcc(np.zeros(4000, np.float32), 16000, n_mfcc=n_mfcc, n_mels=40)


# ---------------------------------------------------------------------------------------------------------
# Real files


def test_espeak_speakers_every_file_decodes():
    manifest = ESPEAK_DIR / "manifest.csv"
    if not manifest.is_file():
        pytest.skip(f"test data set not found at {ESPEAK_DIR} (set AVTFUSE_ESPEAK_DIR)")
    with open(manifest, newline="") as handle:
        paths = [ESPEAK_DIR / row["audio"] for row in csv.DictReader(handle) if row["audio"]]
    assert len(paths) == 200
    problems, rates, suffixes = [], set(), set()
    for path in paths:
        try:
            samples, rate = audio.read_audio(path)
        except DataError as error:
            problems.append(str(error))
            continue
        info = soundfile.info(str(path))
        if samples.dtype != np.float32 or samples.ndim != 1 or not np.isfinite(samples).all():
            problems.append(f"{path}: not a finite mono float32 signal")
        elif rate != info.samplerate or len(samples) != info.frames:
            problems.append(f"{path}: {len(samples)} samples at {rate} Hz, expected {info.frames} at "
                            f"{info.samplerate} Hz ({info.duration:.3f} s)")
        elif np.abs(samples).max() < 1e-3:
            problems.append(f"{path}: silent")
        rates.add(rate)
        suffixes.add(path.suffix)
    assert not problems, "\n".join(problems)
    assert {".wav", ".flac"} <= suffixes and len(rates) >= 3  # the set's variety really was exercised
