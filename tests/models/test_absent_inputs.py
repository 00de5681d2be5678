"""What a served request holds for an absent sensor (present bit 0), or for the steps a per-step mask marks
padding, changes nothing: zeros, NaN, inf and 1e30 there give exactly the same outputs, for every system."""

import keras
import numpy as np
import pytest

from avtfuse.models import SYSTEMS, ContractClassifier

# Tiny model configs, one per system (and AVTNet's present-token variant, which reads "present" in its call).
TINY = {
    "avtnet": {"audio_shape": (16, 8), "image_size": (16, 16), "image_filters": 4, "token_dim": 8,
               "embedding_dim": 8, "hidden_dim": 8, "num_heads": 2, "ff_dim": 8},
    "avtnet-present": {"audio_shape": (16, 8), "image_size": (16, 16), "image_filters": 4, "token_dim": 8,
                       "embedding_dim": 8, "hidden_dim": 8, "num_heads": 2, "ff_dim": 8, "joint_tokens": "present"},
    "sa_fusion": {"modalities": ("audio", "visible", "thermal"), "audio_shape": (24, 10),
                  "visible_shape": (8, 16, 16, 3), "thermal_shape": (8, 16, 16, 1), "frame_filters": 8,
                  "frame_units": 16},
    "mct_hfr": {"audio_shape": (12, 6), "visible_shape": (4, 8, 8, 3), "thermal_shape": (4, 8, 8, 1), "units": 16,
                "heads": 2, "layers": 1, "frame_filters": 4, "frame_units": 8, "cgate_units": 8,
                "decoder_layers": 1},
    "cfn_sr": {"modalities": ("audio", "visible", "thermal"), "audio_shape": (28, 13),
               "visible_shape": (4, 8, 8, 3), "thermal_shape": (4, 8, 8, 1), "audio_filters": (8, 8, 16),
               "video_widths": (4, 8), "video_strides": ((1, 2, 2), (2, 2, 2)), "attention_units": 8,
               "transformer_layers": 1, "transformer_heads": 2, "transformer_ff": 16},
}
FILLS = (np.nan, np.inf, -np.inf, 1e30)


def tiny_classifier(name, dtype=None):
    system = SYSTEMS[name.split("-")[0]]
    config = system.config_class(**TINY[name])
    keras.utils.set_random_seed(0)
    backbone = next(iter(system.variants.values())).backbone(config, dtype=dtype)
    return ContractClassifier(backbone, system.head(backbone.feature_dim, 3))


def request(classifier, batch=3, seed=0):
    """A served batch: every input of the serving spec, random values, every sensor present, masks all ones."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for key, (shape, _) in classifier.serving_spec().items():
        real = key == "present" or key.endswith("_mask")
        inputs[key] = np.ones((batch, *shape[1:]), "float32") if real else \
            rng.uniform(size=(batch, *shape[1:])).astype("float32")
    return inputs


def served(classifier, inputs):
    return {key: keras.ops.convert_to_numpy(value) for key, value in classifier.serve(inputs).items()}


@pytest.mark.parametrize("name", list(TINY))
def test_an_absent_sensor_gives_the_same_outputs_whatever_it_holds(name):
    classifier = tiny_classifier(name)
    modalities = classifier.modalities
    inputs = request(classifier)
    inputs["present"][0, 0] = 0.0  # row 0: the first sensor absent; row 1: the last; row 2: complete
    inputs["present"][1, -1] = 0.0
    zeros = dict(inputs, **{m: inputs[m].copy() for m in modalities})
    zeros[modalities[0]][0] = 0.0
    zeros[modalities[-1]][1] = 0.0
    expected = served(classifier, zeros)
    assert all(np.isfinite(value).all() for value in expected.values())
    for fill in FILLS:
        filled = dict(inputs, **{m: inputs[m].copy() for m in modalities})
        filled[modalities[0]][0] = fill
        filled[modalities[-1]][1] = fill
        outputs = served(classifier, filled)
        for key, value in expected.items():
            np.testing.assert_array_equal(outputs[key], value, err_msg=f"{key} with {fill}")


def test_padded_steps_give_the_same_outputs_whatever_they_hold():
    """MCT-HFR's per-step masks ("<m>_mask" 0: padding): the padded steps are zeros, whatever was sent."""
    classifier = tiny_classifier("mct_hfr")
    inputs = request(classifier)
    steps = {"audio": 5, "visible": 2, "thermal": 3}  # real steps of row 0
    zeros = {key: value.copy() for key, value in inputs.items()}
    for modality, count in steps.items():
        zeros[f"{modality}_mask"][0, count:] = 0.0
        zeros[modality][0, count:] = 0.0
    expected = served(classifier, zeros)
    for fill in FILLS:
        filled = {key: value.copy() for key, value in zeros.items()}
        for modality, count in steps.items():
            filled[modality][0, count:] = fill
        outputs = served(classifier, filled)
        for key, value in expected.items():
            np.testing.assert_array_equal(outputs[key], value, err_msg=f"{key} with {fill}")


def test_an_absent_sensor_under_mixed_float16_stays_finite_and_equal():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        classifier = tiny_classifier("avtnet", dtype="mixed_float16")
        inputs = request(classifier)
        inputs["present"][:, 1] = 0.0
        zeros, huge = (dict(inputs, visible=np.full_like(inputs["visible"], fill)) for fill in (0.0, 1e30))
        expected, outputs = served(classifier, zeros), served(classifier, huge)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for key, value in expected.items():
        assert np.isfinite(value).all(), key
        np.testing.assert_array_equal(outputs[key], value, err_msg=key)


@pytest.mark.parametrize("name", ["avtnet", "mct_hfr"])
def test_nan_in_a_present_sensor_spoils_that_request_alone(name):
    """Not checked in the graph: the request's own row is NaN, the other rows are what they were."""
    classifier = tiny_classifier(name)
    inputs = request(classifier)
    expected = served(classifier, inputs)
    spoiled = dict(inputs, audio=inputs["audio"].copy())
    spoiled["audio"][1, 0] = np.nan
    outputs = served(classifier, spoiled)
    assert np.isnan(outputs["probabilities"][1]).all()
    np.testing.assert_allclose(outputs["probabilities"][[0, 2]], expected["probabilities"][[0, 2]], rtol=1e-5,
                               atol=1e-7)
