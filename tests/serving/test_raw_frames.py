"""Tests for avtfuse.serving.raw_frames: in-graph frames against the pipeline's NumPy loaders on real files, and
their LiteRT and ONNX conversions."""

import cv2
import numpy as np
import pytest
import tensorflow as tf
from scipy.spatial import cKDTree

from avtfuse.serving import raw_frames
from pipelines import image, palettes
from pipelines.errors import DataError
from pipelines.features import FeatureConfig

LEVEL = 1 / 255 + 1e-6  # frames: within one uint8 level of the pipeline's
FIT_TOLERANCE = 1e-5  # palette fit: float32 in the graph against palettes.invert's float64


def _heat(shape, seed):
    """uint8 [*shape]: a smooth heat field with a little noise."""
    rows, columns = np.mgrid[0:shape[0], 0:shape[1]]
    field = 0.5 + 0.3 * np.sin(rows / 4.0 + seed) * np.cos(columns / 6.0) + 0.15 * rows / shape[0]
    noise = np.random.default_rng(seed).normal(0.0, 0.03, shape)
    return np.clip(np.rint((field + noise) * 255), 0, 255).astype(np.uint8)


def _colour(shape, seed, dtype=np.uint8):
    """RGB [*shape, 3] of `dtype`: three heat fields (16-bit: each level times 257 plus noise)."""
    rgb = np.stack([_heat(shape, seed + channel) for channel in range(3)], axis=2)
    if dtype == np.uint16:
        noise = np.random.default_rng(seed).integers(-128, 128, rgb.shape)
        return np.clip(rgb * 257 + noise, 0, 65535).astype(np.uint16)
    return rgb


def _write(path, rgb_or_grey, params=()):
    """Writes an RGB [H, W, 3] or grey [H, W] image with OpenCV (BGR order on disk)."""
    array = rgb_or_grey[:, :, ::-1] if rgb_or_grey.ndim == 3 else rgb_or_grey
    assert cv2.imwrite(str(path), np.ascontiguousarray(array), list(params))
    return path


def _client_frames(*paths):
    """The uint8 frames a client passes: decoded by OpenCV, RGB, a 16-bit image as round(x / 257); [B, H, W, C]."""
    frames = []
    for path in paths:
        decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if decoded.dtype == np.uint16:
            decoded = np.rint(decoded / 257.0).astype(np.uint8)
        decoded = decoded.reshape(*decoded.shape[:2], -1)
        frames.append(decoded[:, :, ::-1] if decoded.shape[2] == 3 else decoded)
    return np.stack(frames)


def _stored(frame):
    """The feature cache's frame: to_uint8 read back as k / 255."""
    return image.to_uint8(frame).astype(np.float32) / 255.0


def _mean_distance(path, palette, crop):
    """palettes.invert's mean distance for the (cropped) 8-bit colours of a 3-channel image file."""
    colours = image.read_image(path)
    if crop == "center":
        side = min(colours.shape[:2])
        top, left = (colours.shape[0] - side) // 2, (colours.shape[1] - side) // 2
        colours = colours[top:top + side, left:left + side]
    levels = np.rint(colours.reshape(-1, 3) * 255) / 255.0
    return cKDTree(palettes.lookup_table(palette)).query(levels.astype(np.float32))[0].mean()


@pytest.mark.parametrize("source, size", [
    ((40, 52), (16, 16)),  # area, non-integer factors 2.5 and 3.25
    ((32, 48), (16, 16)),  # area, integer factors (cv2's fast path)
    ((49, 97), (48, 48)),  # area, factors just above 1 and 2
    ((480, 640), (48, 56)),  # area, a camera frame: factors 10 and 11.43
    ((16, 64), (16, 20)),  # area, one side kept
    ((30, 30), (48, 40)),  # linear, enlarging
    ((60, 20), (16, 24)),  # linear, one side shrinks and the other grows
])
def test_resize_frames_matches_cv2_on_float32(source, size):
    images = np.random.default_rng(20).random((2, *source, 3), dtype=np.float32)
    shrinking = size[0] <= source[0] and size[1] <= source[1]
    expected = [cv2.resize(frame, size[::-1], interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
                for frame in images]
    np.testing.assert_allclose(raw_frames.resize_frames(images, size).numpy(), np.stack(expected), atol=1e-6, rtol=0)


# (file name, written image, image_size, crop): shrink by non-integer and integer factors, enlarge, mixed
# (one side shrinks, the other grows), the centre crop, grey jpeg and a 16-bit TIFF.
VISIBLE_CASES = {
    "rgb_png_shrink": ("v.png", lambda: _colour((40, 52), 1), (16, 16), "full"),
    "grey_jpeg_enlarge": ("v.jpg", lambda: _heat((20, 24), 2), (32, 40), "full"),
    "tiff16_shrink": ("v.tiff", lambda: _colour((37, 45), 3, np.uint16), (16, 16), "full"),
    "center_integer_shrink": ("v.png", lambda: _colour((48, 64), 4), (16, 16), "center"),
    "mixed": ("v.png", lambda: _colour((20, 60), 5), (24, 16), "full"),
}


@pytest.mark.parametrize("case", VISIBLE_CASES)
def test_visible_frames_match_load_visible(tmp_path, case):
    name, written, size, crop = VISIBLE_CASES[case]
    path = _write(tmp_path / name, written())
    features = FeatureConfig(image_size=size, frame_crop=crop)
    frames = raw_frames.visible_frames(_client_frames(path), features).numpy()
    expected = _stored(image.load_visible(path, size, crop=crop))
    assert frames.shape == (1, *size, 3) and frames.dtype == np.float32
    assert np.abs(frames[0] - expected).max() <= LEVEL


# (file name, written image: heat [H, W] or RGB, palette, image_size, crop, imwrite params)
THERMAL_CASES = {
    "heat_png_mixed": ("t.png", lambda: _heat((60, 20), 6), "iron", (16, 24), "full", ()),
    "iron_png_shrink": ("t.png", lambda: palettes.colour_map(_heat((40, 52), 7), "iron"), "iron", (16, 16),
                        "full", ()),
    "inferno_png_center_enlarge": ("t.png", lambda: palettes.colour_map(_heat((20, 30), 8), "inferno"), "inferno",
                                   (24, 24), "center", ()),
    "iron_jpeg_shrink": ("t.jpg", lambda: palettes.colour_map(_heat((40, 52), 9), "iron"), "iron", (16, 16),
                         "full", (cv2.IMWRITE_JPEG_QUALITY, 90)),
    "grey_as_colour_png": ("t.png", lambda: np.repeat(_heat((30, 34), 10)[:, :, None], 3, axis=2), "grey",
                           (16, 16), "full", ()),
}


@pytest.mark.parametrize("case", THERMAL_CASES)
def test_thermal_frames_match_load_thermal(tmp_path, case):
    name, written, palette, size, crop, params = THERMAL_CASES[case]
    path = _write(tmp_path / name, written(), params)
    features = FeatureConfig(image_size=size, frame_crop=crop, thermal_palette=palette)
    raw = _client_frames(path)
    heat, fit = raw_frames.thermal_frames(raw, features, palette)
    expected = _stored(image.load_thermal(path, size, palette, crop=crop))
    assert heat.shape == (1, *size, 1) and fit.shape == (1,)
    assert np.abs(heat.numpy()[0] - expected).max() <= LEVEL
    if raw.shape[3] == 1:
        assert fit.numpy()[0] == 0.0
    elif palette == "grey":
        assert fit.numpy()[0] == 0.0  # channels equal everywhere: no spread
    else:
        assert abs(fit.numpy()[0] - _mean_distance(path, palette, crop)) <= FIT_TOLERANCE
    assert fit.numpy()[0] <= raw_frames.palette_fit_limit(palette)


def test_a_lossy_frame_at_its_own_size_differs_from_palettes_invert_only_on_exact_ties(tmp_path):
    path = _write(tmp_path / "t.jpg", palettes.colour_map(_heat((40, 52), 19), "iron"), (cv2.IMWRITE_JPEG_QUALITY, 50))
    raw = _client_frames(path)
    heat, _ = raw_frames.thermal_frames(raw, FeatureConfig(image_size=(40, 52), thermal_palette="iron"), "iron")
    ours = np.rint(heat.numpy()[0, :, :, 0] * 255).astype(int)
    theirs = np.rint(image.load_thermal(path, (40, 52), "iron")[:, :, 0] * 255).astype(int)
    levels = np.rint(palettes.lookup_table("iron") * 255).astype(int)
    np.testing.assert_array_equal(((raw[0] - levels[ours]) ** 2).sum(axis=2),
                                  ((raw[0] - levels[theirs]) ** 2).sum(axis=2))


@pytest.mark.parametrize("written_with, palette", [("jet", "iron"), ("iron", "grey")])
def test_fit_above_the_limit_where_load_thermal_refuses(tmp_path, written_with, palette):
    path = _write(tmp_path / "t.png", palettes.colour_map(_heat((24, 28), 11), written_with))
    features = FeatureConfig(image_size=(16, 16), thermal_palette=palette)
    _, fit = raw_frames.thermal_frames(_client_frames(path), features, palette)
    assert fit.numpy()[0] > raw_frames.palette_fit_limit(palette)
    if palette != "grey":
        assert fit.numpy()[0] > palettes.MAX_MEAN_DISTANCE
        assert abs(fit.numpy()[0] - _mean_distance(path, palette, "full")) <= FIT_TOLERANCE
    with pytest.raises(DataError):
        image.load_thermal(path, (16, 16), palette)


def test_a_batch_of_two_frames_gives_each_frame_its_own_result(tmp_path):
    features = FeatureConfig(image_size=(16, 16), thermal_palette="iron")
    visible = [_write(tmp_path / f"v{seed}.png", _colour((30, 41), seed)) for seed in (12, 13)]
    thermal = [_write(tmp_path / f"t{seed}.png", palettes.colour_map(_heat((30, 41), seed), "iron"))
               for seed in (14, 15)]
    frames = raw_frames.visible_frames(_client_frames(*visible), features).numpy()
    heat, fit = raw_frames.thermal_frames(_client_frames(*thermal), features, "iron")
    for row in range(2):
        assert np.abs(frames[row] - _stored(image.load_visible(visible[row], (16, 16)))).max() <= LEVEL
        assert np.abs(heat.numpy()[row] - _stored(image.load_thermal(thermal[row], (16, 16), "iron"))).max() <= LEVEL
        assert abs(fit.numpy()[row] - _mean_distance(thermal[row], "iron", "full")) <= FIT_TOLERANCE
    assert not np.array_equal(frames[0], frames[1]) and not np.array_equal(heat[0], heat[1])


def test_traced_once_for_any_batch_size_and_channel_count():
    features = FeatureConfig(image_size=(8, 12), frame_crop="center", thermal_palette="iron")
    unknown = tf.TensorSpec([None, None, None, None], tf.uint8)
    visible = tf.function(lambda frames: raw_frames.visible_frames(frames, features)).get_concrete_function(unknown)
    thermal = tf.function(
        lambda frames: raw_frames.thermal_frames(frames, features, "iron")).get_concrete_function(unknown)
    for shape in [(2, 30, 20, 3), (1, 7, 9, 1)]:
        raw = np.random.default_rng(16).integers(0, 256, shape).astype(np.uint8)
        traced, eager = visible(tf.constant(raw)), raw_frames.visible_frames(raw, features)
        assert traced.shape == (shape[0], 8, 12, 3)
        assert np.abs(traced.numpy() - eager.numpy()).max() <= LEVEL  # a level where x.5 rounds either way
        (traced_heat, traced_fit), (heat, fit) = thermal(tf.constant(raw)), raw_frames.thermal_frames(
            raw, features, "iron")
        assert traced_heat.shape == (shape[0], 8, 12, 1)
        assert np.abs(traced_heat.numpy() - heat.numpy()).max() <= LEVEL
        np.testing.assert_allclose(traced_fit.numpy(), fit.numpy(), atol=1e-6, rtol=0)
    assert fit.numpy()[0] == 0.0  # the last shape has one channel: the heat itself


def test_bad_frames_are_refused_naming_them():
    features = FeatureConfig(image_size=(8, 8))
    with pytest.raises(ValueError, match="visible frames: expected uint8"):
        raw_frames.visible_frames(np.zeros((1, 8, 8, 3), np.float32), features)
    with pytest.raises(ValueError, match=r"thermal frames: expected uint8 frames \[B, H, W, C in \{1, 3\}\]"):
        raw_frames.thermal_frames(np.zeros((1, 8, 8, 2), np.uint8), features, "iron")
    with pytest.raises(ValueError, match="unknown thermal palette"):
        raw_frames.thermal_frames(np.zeros((1, 8, 8, 3), np.uint8), features, "rainbowish")


@pytest.mark.parametrize("height, width", [(40, 52), (None, None)])
def test_litert_and_onnx_conversions_match_the_tf_functions(height, width):
    """Fixed input shape, and dynamic H, W run at a shrinking (area) and an enlarging (linear) size."""
    import onnxruntime
    import tf2onnx
    from ai_edge_litert.interpreter import Interpreter

    features = FeatureConfig(image_size=(16, 16), thermal_palette="iron")
    spec = [tf.TensorSpec([1, height, width, 3], tf.uint8, name="frames")]
    functions = {
        "visible": tf.function(lambda frames: raw_frames.visible_frames(frames, features), input_signature=spec),
        "thermal": tf.function(lambda frames: raw_frames.thermal_frames(frames, features, "iron"),
                               input_signature=spec),
    }
    shapes = [(40, 52)] if height else [(40, 52), (10, 13)]
    sizes = {}
    for kind, function in functions.items():
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], function)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        litert = converter.convert()
        onnx_model, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=17)
        session = onnxruntime.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
        sizes[kind] = (len(litert), onnx_model.ByteSize())
        for shape in shapes:
            raw = (_colour(shape, 17) if kind == "visible" else palettes.colour_map(_heat(shape, 18), "iron"))[None]
            expected = sorted((np.asarray(output) for output in tf.nest.flatten(function(raw))), key=np.size)
            interpreter = Interpreter(model_content=litert)
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], raw.shape)
            interpreter.allocate_tensors()
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], raw)
            interpreter.invoke()
            litert_outputs = sorted((interpreter.get_tensor(detail["index"])
                                     for detail in interpreter.get_output_details()), key=np.size)
            onnx_outputs = sorted(session.run(None, {"frames": raw}), key=np.size)
            for outputs in (litert_outputs, onnx_outputs):
                assert [output.shape for output in outputs] == [reference.shape for reference in expected]
                for output, reference in zip(outputs, expected):  # frames within a level (x.5 rounds either way)
                    assert np.abs(output - reference).max() <= (LEVEL if output.ndim == 4 else FIT_TOLERANCE)
                    assert np.abs(output - reference).mean() <= 1e-3
    print(f"converted sizes (bytes; LiteRT, ONNX), H, W = {height}, {width}:", sizes)
    assert sizes["thermal"][0] > raw_frames.palette_candidates("iron").nbytes  # the table travels with the model
