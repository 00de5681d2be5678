"""Tests for pipelines.palette_choice: --thermal-palette auto, chosen once per run from a sample of the frames."""

import logging

import cv2
import numpy as np
import pytest

from pipelines import cache, palette_choice, palettes, sources
from pipelines.dataset import DataConfig
from pipelines.errors import DataError, ErrorPolicy
from pipelines.synthetic.speakingfaces import THERMAL_PALETTE, write_speakingfaces

FORMATS = ("png", "jpeg30")


@pytest.fixture(scope="module")
def heats(tmp_path_factory):
    """uint8 [64, 64] heat maps: six synthetic SpeakingFaces heads (inverted from their iron frames) and four
    smooth random fields over partial heat ranges."""
    root = tmp_path_factory.mktemp("heads")
    written = write_speakingfaces(root, subjects=(1, 2, 3), trials=(1,), positions=(1, 2), commands=(1,),
                                  frames_per_recording=1, image_size=64, audio_seconds=0.5)
    maps = [_heat_of(cv2.imread(r.thermal[0])[:, :, ::-1]) for r in written]
    rng = np.random.default_rng(5)
    for low, high in ((0.0, 1.0), (0.1, 0.6), (0.3, 0.9), (0.5, 1.0)):
        field = cv2.GaussianBlur(rng.random((64, 64)).astype(np.float32), (0, 0), 4.0)
        field = (field - field.min()) / (field.max() - field.min())
        maps.append(np.round(255 * (low + (high - low) * field)).astype(np.uint8))
    return maps


def _heat_of(iron_rgb):
    return np.round(255 * palettes.invert(iron_rgb / 255.0, "iron")[:, :, 0]).astype(np.uint8)


def _written(heat, palette, fmt):
    """The heat map written through `palette` and read back as float RGB [H, W, 3] in [0, 1]: a PNG, or a JPEG at
    quality 30 (cv2.imencode, the lossy case the margin was chosen from)."""
    bgr = palettes.colour_map(heat, palette)[:, :, ::-1]
    options = [cv2.IMWRITE_JPEG_QUALITY, 30] if fmt == "jpeg30" else []
    ok, encoded = cv2.imencode(".png" if fmt == "png" else ".jpg", np.ascontiguousarray(bgr), options)
    assert ok
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("palette", ["iron", "inferno", "magma", "jet", "grey"])
def test_the_palette_written_is_the_one_chosen(heats, palette, fmt):
    frames = [(f"frame{i}", _written(heat, palette, fmt)) for i, heat in enumerate(heats)]
    choice = palette_choice.choose_palette(frames)
    assert (choice.palette, choice.frames, choice.misfits) == (palette, len(heats), ())
    assert choice.runner_up_fit - choice.fit >= palette_choice.MARGIN
    if palette == "grey":
        assert all(np.array_equal(f[:, :, 0], f[:, :, 2]) for _, f in frames)  # R = G = B even after JPEG


@pytest.mark.parametrize("palette", ["iron", "inferno", "magma"])
def test_the_margin_lies_below_every_jpeg_frames_gap_of_the_close_palettes(heats, palette):
    """The measurement MARGIN was chosen from (module docstring), frame by frame: after JPEG at quality 30 the
    right palette still fits each frame best, by more than MARGIN."""
    index = palettes.PALETTES.index(palette)
    for heat in heats:
        fit = palette_choice.fits(_written(heat, palette, "jpeg30"))
        assert fit.argmin() == index
        assert np.delete(fit, index).min() - fit[index] > palette_choice.MARGIN


def test_fits_are_the_mean_distance_to_the_nearest_palette_colour(heats):
    frame = _written(heats[0], "inferno", "jpeg30")
    tables = {name: palettes.lookup_table(name) for name in ("inferno", "magma", "jet")}
    exact = {name: np.linalg.norm(frame.reshape(-1, 1, 3) - table[None], axis=2).min(axis=1).mean()
             for name, table in tables.items()}
    fit = dict(zip(palettes.PALETTES, palette_choice.fits(frame)))
    for name in tables:  # the lookup never under-estimates, and over-estimates little
        assert exact[name] - 1e-6 <= fit[name] <= exact[name] + 0.005
    assert palette_choice.fits(_written(heats[0], "inferno", "png"))[palettes.PALETTES.index("inferno")] < 0.01


def test_frames_that_fit_no_palette_are_refused_naming_the_two_best():
    rng = np.random.default_rng(0)
    frames = [(f"noise{i}", rng.random((64, 64, 3)).astype(np.float32)) for i in range(4)]
    mean = np.mean([palette_choice.fits(f) for _, f in frames], axis=0)
    best, second = (palettes.PALETTES[i] for i in np.argsort(mean)[:2])
    with pytest.raises(palette_choice.PaletteMismatch) as caught:
        palette_choice.choose_palette(frames)
    message = str(caught.value)
    assert f"best {best!r}" in message and f"then {second!r}" in message and "--thermal-palette" in message
    assert "\n" not in message


def test_a_sample_split_between_two_close_palettes_is_refused_and_misfits_are_named(heats):
    half = [(f"iron{i}", _written(h, "iron", "png")) for i, h in enumerate(heats[:4])]
    other = [(f"inferno{i}", _written(h, "inferno", "png")) for i, h in enumerate(heats[:4])]
    with pytest.raises(palette_choice.PaletteMismatch, match="'iron'.*'inferno'|'inferno'.*'iron'") as caught:
        palette_choice.choose_palette(half + other)
    assert f"within {palette_choice.MARGIN}" in str(caught.value)
    choice = palette_choice.choose_palette(half + other[:1])
    assert (choice.palette, choice.misfits) == ("iron", (("inferno0", "inferno"),))


def test_one_channel_frames_settle_on_grey_and_a_named_palette_is_kept(tmp_path):
    from pipelines.features import FeatureConfig
    from pipelines.recording import Recording

    path = tmp_path / "heat.png"
    cv2.imwrite(str(path), np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1)))  # one channel: the heat
    recordings = [Recording("r1", "1", thermal=str(path))]
    settled = palette_choice.settle_palette(recordings, ("thermal",), FeatureConfig(), "middle", tmp_path)
    assert settled.thermal_palette == "grey"
    named = FeatureConfig(thermal_palette="jet")
    assert palette_choice.settle_palette(recordings, ("thermal",), named, "middle", tmp_path) is named
    assert palette_choice.settle_palette(recordings, ("audio",), FeatureConfig(), "middle", tmp_path).thermal_palette \
        == "auto"  # no thermal in the run: nothing to choose


def test_sampled_frames_spread_over_the_recordings():
    assert palette_choice.sample_paths(list(range(100)), 5) == [0, 25, 50, 74, 99]
    assert palette_choice.sample_paths([3, 4], 16) == [3, 4]


def test_a_synthetic_tree_reads_back_with_default_settings(tmp_path, caplog):
    """The synthetic SpeakingFaces writer writes iron, as the real set does; the default settings (auto) choose
    iron from the frames, decode every thermal frame through it, and key the cache by it."""
    root = tmp_path / "sf"
    written = write_speakingfaces(root, subjects=(1, 2), trials=(1, 2), positions=(1,), commands=(1, 2),
                                  frames_per_recording=1, image_size=16, audio_seconds=0.5)
    assert THERMAL_PALETTE == "iron"
    config = DataConfig(source=str(root), cache_dir=str(tmp_path / "cache"))
    assert config.features.thermal_palette == "auto"
    with caplog.at_level(logging.INFO, logger="pipelines.palette_choice"):
        recordings, _, path, _ = sources.cached_features(config, ErrorPolicy())
    assert "thermal palette: iron, chosen from 8 sampled frames" in caplog.text
    assert len(written) == len(recordings) == 8
    size = config.features.image_size
    for example in cache.read_cache(path).as_numpy_iterator():
        source = recordings[example["index"]].thermal
        expected = cv2.resize(palettes.invert(cv2.imread(source)[:, :, ::-1] / 255.0, "iron"), size[::-1],
                              interpolation=cv2.INTER_LINEAR)
        np.testing.assert_allclose(example["thermal"][:, :, 0], expected, atol=0.6 / 255)
    named = DataConfig(source=str(root), cache_dir=str(tmp_path / "cache"),
                       features=config.features.replace(thermal_palette="iron"))
    assert sources.cached_features(named, ErrorPolicy())[2] == path  # the key sees the palette chosen, not "auto"


def test_a_tree_that_fits_no_palette_is_refused_naming_the_data(tmp_path):
    root = tmp_path / "sf"
    written = write_speakingfaces(root, subjects=(1, 2), trials=(1,), positions=(1,), commands=(1,),
                                  frames_per_recording=1, image_size=16, audio_seconds=0.5)
    rng = np.random.default_rng(1)
    for record in written:
        cv2.imwrite(record.thermal[0], rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    with pytest.raises(DataError, match=f"{root}: the 2 sampled colour thermal frames fit no palette clearly"):
        sources.cached_features(DataConfig(source=str(root), cache_dir=str(tmp_path / "cache")), ErrorPolicy())


def test_decoding_refuses_an_unsettled_palette(tmp_path):
    from pipelines.features import FeatureConfig, extract_features
    from pipelines.recording import Recording

    with pytest.raises(ValueError, match="'auto' must be settled before decoding"):
        list(extract_features([Recording("r", "p", thermal=str(tmp_path / "t.png"))], ("thermal",), FeatureConfig(),
                              {}, ErrorPolicy()))
