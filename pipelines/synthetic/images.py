"""Synthetic frames for the synthetic SpeakingFaces set: a face (RGB) and its heat pattern.

The face (head shape, eyes, nose, mouth, skin, hair, clothes) and the heat
pattern (forehead, cheeks, nose, eye corners, mouth, neck) are drawn at 4x
resolution with anti-aliased ellipses, placed by the frame's pose, lit and
noised per recording, and shrunk to the image size. Used by pipelines.synthetic.
"""

import cv2
import numpy as np

_SUPERSAMPLE = 4
# Expression parameters a frame pose may carry under "expression" (all optional):
# smile: mouth corners up (> 0) or down (< 0), in units of 0.12 head width;
# brow_raise: both brows up (> 0) or down, in eye radii; brow_tilt: inner brow
# ends up (> 0, sad, fearful) or down (< 0, angry), in eye radii; eye_open: eye
# height as a multiple of the eye radius (1 = the neutral eye).
NEUTRAL_EXPRESSION = {"smile": 0.0, "brow_raise": 0.0, "brow_tilt": 0.0, "eye_open": 1.0}


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


def face_image(face, scene, pose, rng, image_size, nuisance):
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

    # Optional facial expression (pipelines.synthetic_ravdess); without it the neutral face is drawn.
    expression = {**NEUTRAL_EXPRESSION, **pose.get("expression", {})}
    eye_y = cy + face["eye_height"] * hh
    eye_dx = face["eye_spacing"] * hw
    eye_r = face["eye_size"] * hw
    eye_open = expression["eye_open"]
    brow_inner = 2.2 + expression["brow_raise"] + expression["brow_tilt"]
    brow_outer = 2.4 + expression["brow_raise"] - 0.5 * expression["brow_tilt"]
    for side in (-1, 1):
        _ellipse(layer, (cx + side * eye_dx, eye_y), (1.5 * eye_r, eye_r * eye_open), (245, 245, 245))
        _ellipse(layer, (cx + side * eye_dx, eye_y), (0.7 * eye_r, 0.7 * eye_r * min(1.0, eye_open)), (40, 30, 25))
        cv2.line(layer, (int(cx + side * (eye_dx - 1.6 * eye_r)), int(eye_y - brow_inner * eye_r)),
                 (int(cx + side * (eye_dx + 1.6 * eye_r)), int(eye_y - brow_outer * eye_r)),
                 (hair * 0.7).tolist(), max(1, int(0.5 * eye_r)), cv2.LINE_AA)
    nose_end = eye_y + face["nose_length"] * 2 * hh
    cv2.line(layer, (int(cx), int(eye_y + eye_r)), (int(cx), int(nose_end)), (skin * 0.75).tolist(),
             max(1, int(0.04 * hw)), cv2.LINE_AA)
    mouth_y = cy + face["mouth_height"] * hh
    mouth_axes = (face["mouth_width"] * hw, (0.04 + 0.1 * pose["mouth_open"]) * hw)
    if expression["smile"] == 0:
        _ellipse(layer, (cx, mouth_y), mouth_axes, (150, 50, 60))
    else:  # the same ellipse with its corners raised (smile > 0) or lowered (< 0)
        x = np.cos(np.linspace(0, 2 * np.pi, 48, endpoint=False))
        y = np.sin(np.linspace(0, 2 * np.pi, 48, endpoint=False))
        points = np.stack([cx + mouth_axes[0] * x,
                           mouth_y + mouth_axes[1] * y - 0.12 * hw * expression["smile"] * x * x], axis=1)
        cv2.fillPoly(layer, [np.round(points).astype(np.int32)], (150, 50, 60), cv2.LINE_AA)

    layer, mask = _place(layer, mask, pose, size, nuisance)
    image = background * (1 - mask[..., None]) + layer * mask[..., None]

    ys, xs = np.mgrid[0:size, 0:size] / size - 0.5
    light = scene["brightness"] * (1 + scene["shading"][0] * xs + scene["shading"][1] * ys)
    image = image * light[..., None] * scene["cast"]
    image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
    image += rng.normal(0, 4 * nuisance, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def heat_image(heat, scene, pose, rng, image_size, nuisance):
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


def write_png(path, image):
    if not cv2.imwrite(path, image):
        raise OSError(f"{path}: could not write the png")
