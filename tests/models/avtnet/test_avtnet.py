import itertools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from avtfuse.layers import BlockedMultiHeadAttention, DenseJointEncoder, EmbeddingHead, TransformerBlock
from avtfuse.losses import batch_hard_triplet_loss, missing_modality_loss, triplet_prototypical_loss
from avtfuse.contract import MODALITIES
from avtfuse.models.avtnet import AVTNet, AVTNetConfig

TINY = {"audio_shape": (16, 8), "image_size": (16, 16)}
SUBSETS = [
    subset for size in (1, 2, 3) for subset in itertools.combinations(MODALITIES, size)
]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def tiny_config(**overrides):
    return AVTNetConfig(**{**TINY, **overrides})


def make_inputs(config, batch, rng, present=None):
    """A data-contract batch: random tensors, missing modalities zeroed."""
    if present is None:
        present = np.ones((batch, len(config.modalities)), "float32")
    frames, n_mels = config.audio_shape
    shapes = {
        "audio": (frames, n_mels),
        "visible": (*config.image_size, 3),
        "thermal": (*config.image_size, config.thermal_channels),
    }
    inputs = {"present": present.astype("float32"), "recording": np.array([b"rec"] * batch)}
    for index, modality in enumerate(config.modalities):
        values = rng.uniform(size=(batch, *shapes[modality])).astype("float32")
        mask = present[:, index].reshape((batch,) + (1,) * len(shapes[modality]))
        inputs[modality] = values * mask
    return inputs


def numpy_outputs(outputs):
    return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}


def test_outputs_are_unit_norm_embeddings_and_extra_keys_are_ignored(rng):
    config = tiny_config()
    model = AVTNet(config)
    outputs = numpy_outputs(model(make_inputs(config, 4, rng)))
    assert model.embedding_names == ("audio", "visible", "thermal", "joint")
    assert set(outputs) == set(model.embedding_names)
    for name, embedding in outputs.items():
        assert embedding.shape == (4, 256) and embedding.dtype == np.float32, name
        np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), 1.0, rtol=1e-5)


def test_all_zero_modality_gives_finite_zero_or_unit_embedding(rng):
    config = tiny_config()
    model = AVTNet(config)
    present = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1]], "float32")
    outputs = numpy_outputs(model(make_inputs(config, 3, rng, present)))
    for name, embedding in outputs.items():
        norms = np.linalg.norm(embedding, axis=1)
        assert np.all(np.isfinite(embedding)), name
        assert np.all(np.isclose(norms, 0.0, atol=1e-6) | np.isclose(norms, 1.0, rtol=1e-5)), name
    # Zero biases at initialisation: a zeroed input gives the zero embedding.
    np.testing.assert_array_equal(outputs["thermal"][0], 0.0)
    np.testing.assert_allclose(np.linalg.norm(outputs["joint"], axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("modalities", SUBSETS, ids=["-".join(s) for s in SUBSETS])
def test_every_modality_subset_builds(modalities, rng):
    config = tiny_config(modalities=modalities, token_dim=8, num_heads=2, image_filters=4)
    model = AVTNet(config)
    assert model.embedding_names == (*modalities, "joint")
    assert sorted(model.input) == sorted(modalities)
    outputs = numpy_outputs(model(make_inputs(config, 2, rng)))
    assert sorted(outputs) == sorted(model.embedding_names)
    tokens = sum(16 if m == "audio" else 2 * 2 for m in modalities)
    assert model.get_layer("joint_transformer").output.shape == (None, tokens, 8)
    concatenated = keras.ops.convert_to_numpy(model.features(outputs))
    assert concatenated.shape == (2, 256 * (len(modalities) + 1))
    np.testing.assert_array_equal(concatenated[:, -256:], outputs["joint"])
    np.testing.assert_array_equal(concatenated[:, :256], outputs[modalities[0]])


@pytest.mark.parametrize("pooling, audio_features", [("flatten", 16 * 64), ("average", 64)])
def test_pooling(pooling, audio_features, rng):
    config = tiny_config(pooling=pooling)
    model = AVTNet(config)
    head = model.get_layer("audio_embedding")
    assert head.pooling == pooling
    assert head.hidden_layers[0].kernel.shape == (audio_features, 256)
    visible_features = 2 * 2 * 64 if pooling == "flatten" else 64
    assert model.get_layer("visible_embedding").hidden_layers[0].kernel.shape == (visible_features, 256)
    outputs = numpy_outputs(model(make_inputs(config, 3, rng)))
    np.testing.assert_allclose(np.linalg.norm(outputs["visible"], axis=1), 1.0, rtol=1e-5)


def test_dense_joint_encoder(rng):
    config = tiny_config(joint="dense")
    model = AVTNet(config)
    joint = model.get_layer("joint_embedding")
    assert isinstance(joint, DenseJointEncoder)
    assert not any(isinstance(layer, TransformerBlock) for layer in model.layers)
    assert joint.hidden_layers[0].kernel.shape == (16 * 64 + 2 * (2 * 2 * 64), 256)
    assert len(joint.hidden_layers) == 2
    outputs = numpy_outputs(model(make_inputs(config, 3, rng)))
    np.testing.assert_allclose(np.linalg.norm(outputs["joint"], axis=1), 1.0, rtol=1e-5)


def test_transformer_joint_is_mean_pooled_tokens():
    model = AVTNet(tiny_config())
    joint = model.get_layer("joint_embedding")
    assert type(joint) is EmbeddingHead and joint.pooling == "average"
    assert model.get_layer("tokens").output.shape == (None, 16 + 2 * 4, 64)


def test_config_round_trip():
    config = tiny_config(modalities="thermal,audio", pooling="average", joint_loss="prototypical", margin=0.5)
    assert config.modalities == ("audio", "thermal")
    restored = AVTNetConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert restored == config
    model = AVTNet(config)
    clone = AVTNet.from_config(model.get_config())
    assert clone.config == config
    assert clone.count_params() == model.count_params()


@pytest.mark.parametrize(
    "field, value",
    [
        ("modalities", ("audio", "depth")),
        ("audio_shape", (16,)),
        ("image_size", (4, 16)),
        ("token_dim", 0),
        ("num_heads", 3),
        ("dropout", 1.5),
        ("pooling", "max"),
        ("joint", "sum"),
        ("modality_loss", "contrastive"),
        ("joint_loss", "hinge"),
        ("soft", "yes"),
        ("margin", 0.0),
        ("attention", "sparse"),
        ("attention_block", 0),
    ],
)
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        tiny_config(**{field: value})


def test_config_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown fields"):
        AVTNetConfig.from_dict({"layers": 3})


def test_save_and_load_keras_file(tmp_path, rng):
    config = tiny_config(modalities=("audio", "visible"))
    model = AVTNet(config)
    inputs = make_inputs(config, 3, rng)
    path = str(tmp_path / "avtnet.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, AVTNet) and loaded.config == config
    expected, restored = numpy_outputs(model(inputs)), numpy_outputs(loaded(inputs))
    for name in model.embedding_names:
        np.testing.assert_allclose(restored[name], expected[name], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "modality_loss, joint_loss",
    [("missing_modality", "batch_hard"), ("batch_hard", "prototypical")],
)
def test_compute_loss_is_the_sum_of_the_terms(modality_loss, joint_loss, rng):
    config = tiny_config(modality_loss=modality_loss, joint_loss=joint_loss, soft=False, margin=0.3)
    model = AVTNet(config)
    present = np.array([[1, 1, 1], [0, 1, 1], [1, 0, 1], [1, 1, 0], [1, 1, 1], [0, 1, 1]], "float32")
    labels = np.array([0, 0, 1, 1, 2, 2], "int32")
    inputs = make_inputs(config, 6, rng, present)
    outputs = model(inputs)
    total = float(model.compute_loss(inputs, labels, outputs))
    expected = {}
    for index, modality in enumerate(config.modalities):
        if modality_loss == "missing_modality":
            expected[modality] = missing_modality_loss(labels, outputs[modality], present[:, index])
        else:
            expected[modality] = batch_hard_triplet_loss(labels, outputs[modality], soft=False, margin=0.3)
    joint_function = batch_hard_triplet_loss if joint_loss == "batch_hard" else triplet_prototypical_loss
    expected["joint"] = joint_function(labels, outputs["joint"], soft=False, margin=0.3)
    expected = {name: float(value) for name, value in expected.items()}
    np.testing.assert_allclose(total, sum(expected.values()), rtol=1e-6)
    for name, value in expected.items():
        np.testing.assert_allclose(float(model.loss_trackers[name].result()), value, rtol=1e-6)


def test_compute_loss_rejects_missing_present_and_sample_weight(rng):
    config = tiny_config(modalities=("audio",))
    model = AVTNet(config)
    inputs = make_inputs(config, 2, rng)
    outputs = model(inputs)
    labels = np.array([0, 1])
    with pytest.raises(ValueError, match="present"):
        model.compute_loss({"audio": inputs["audio"]}, labels, outputs)
    with pytest.raises(ValueError, match="sample_weight"):
        model.compute_loss(inputs, labels, outputs, sample_weight=np.ones(2))


def test_call_rejects_missing_modality_key(rng):
    config = tiny_config(modalities=("audio", "thermal"))
    model = AVTNet(config)
    inputs = make_inputs(config, 2, rng)
    del inputs["thermal"]
    with pytest.raises(ValueError, match="thermal"):
        model(inputs)


def tiny_dataset(config, rng, batches=2, batch=6):
    examples = batches * batch
    present = (rng.uniform(size=(examples, len(config.modalities))) > 0.3).astype("float32")
    inputs = make_inputs(config, examples, rng, present)
    labels = np.tile(np.arange(3, dtype="int32"), examples // 3)
    return tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(batch)


def test_fit_and_evaluate_log_every_loss_term(rng):
    config = tiny_config(token_dim=16, image_filters=8)
    model = AVTNet(config)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.99))
    dataset = tiny_dataset(config, rng)
    history = model.fit(dataset, epochs=1, shuffle=False, verbose=0)
    names = ["loss_audio", "loss_visible", "loss_thermal", "loss_joint"]
    assert set(names) <= set(model.metrics_names)
    for name in ["loss", *names]:
        assert len(history.history[name]) == 1 and np.isfinite(history.history[name][0]), name
    # The logged total is the mean over the batches of the sum of the terms.
    logged_sum = sum(history.history[name][0] for name in names)
    np.testing.assert_allclose(history.history["loss"][0], logged_sum, rtol=1e-5)
    results = model.evaluate(dataset, verbose=0, return_dict=True)
    assert set(["loss", *names]) <= set(results)
    # Evaluation too (Keras ends it with an empty batch, which must not count as a zero term).
    np.testing.assert_allclose(results["loss"], sum(results[name] for name in names), rtol=1e-5)


def test_mixed_precision_train_step(rng):
    previous = keras.mixed_precision.global_policy()
    try:
        keras.mixed_precision.set_global_policy("mixed_float16")
        config = tiny_config(modalities=("audio", "thermal"), token_dim=16, image_filters=8)
        model = AVTNet(config)
        assert model.get_layer("audio_branch").compute_dtype == "float16"
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        inputs = make_inputs(config, 6, rng)
        outputs = model(inputs)
        assert all(value.dtype == tf.float32 for value in outputs.values())
        before = [w.numpy().copy() for w in model.trainable_weights]
        # The loss-scale optimizer skips steps whose float16 gradients overflow while it
        # lowers its scale from 2**15, so give it a few steps.
        for _ in range(4):
            logs = model.train_on_batch(inputs, np.array([0, 0, 1, 1, 2, 2]), return_dict=True)
        assert np.isfinite(logs["loss"]) and np.isfinite(logs["loss_joint"])
        assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
    finally:
        keras.mixed_precision.set_global_policy(previous)


def paper_parameter_count():
    """Parameters of AVTNet at paper shapes, from the layer formulas."""
    def dense(inputs, units):
        return inputs * units + units

    audio = dense(128 * 11, 64) + 2 * dense(64 * 11, 64)
    images = sum(dense(channels * 9, 128) + 2 * dense(128 * 9, 128) + dense(128, 64) for channels in (3, 1))
    def head(features):
        return dense(features, 256) + dense(256, 256)

    heads = head(589 * 64) + 2 * head(28 * 28 * 64)
    transformer = 4 * dense(64, 64) + 2 * (2 * 64) + dense(64, 400) + dense(400, 64)
    neck = 2 * 256  # the joint head's batch-norm neck (gamma and beta)
    return audio + images + heads + transformer + head(64) + neck


def test_paper_shapes_parameter_count_and_one_training_step(rng):
    model = AVTNet()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == paper_parameter_count()
    assert abs(trainable - 36.5e6) < 0.05e6
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.99), run_eagerly=True)
    inputs = make_inputs(model.config, 2, rng, np.array([[1, 1, 1], [1, 0, 1]], "float32"))
    logs = model.train_on_batch(inputs, np.array([0, 1]), return_dict=True)
    assert all(np.isfinite(logs[name]) for name in ("loss", "loss_audio", "loss_visible", "loss_thermal", "loss_joint"))


def test_joint_only_variant_has_one_embedding_and_one_loss_term(rng):
    model = AVTNet(tiny_config(individual_embeddings=False, joint="dense"))
    inputs = make_inputs(model.config, 6, rng)
    outputs = model(inputs)
    assert set(outputs) == {"joint"} and model.embedding_names == ("joint",)
    labels = np.array([0, 0, 1, 1, 2, 2])
    loss = model.compute_loss(inputs, labels, outputs)
    np.testing.assert_allclose(float(loss), float(batch_hard_triplet_loss(labels, outputs["joint"])), rtol=1e-6)


def test_recognizer_sees_only_the_joint_embedding_when_asked(rng):
    model = AVTNet(tiny_config(recognizer_embeddings="joint"))
    outputs = model(make_inputs(model.config, 4, rng))
    np.testing.assert_array_equal(model.features(outputs), outputs["joint"])


def test_adapt_standardizes_with_present_samples_only(rng):
    model = AVTNet(tiny_config(modalities=("audio", "visible")))
    inputs = make_inputs(model.config, 8, rng, np.array([[1, 1], [0, 1]] * 4, "float32"))
    samples = tf.data.Dataset.from_tensor_slices((inputs, np.zeros(8, "int32")))
    model.adapt(samples)
    real_audio = inputs["audio"][inputs["present"][:, 0] > 0]
    layer = model.get_layer("audio_standardize")
    np.testing.assert_allclose(np.ravel(layer.mean), real_audio.reshape(-1, real_audio.shape[-1]).mean(0), rtol=1e-4, atol=1e-5)



def test_adapt_on_arrays_fits_as_on_the_dataset(rng):
    """The inputs as NumPy arrays (no tf.data, as under JAX) give the statistics of the present samples too."""
    config = tiny_config(modalities=("audio", "visible"))
    inputs = make_inputs(config, 8, rng, np.array([[1, 1], [0, 1]] * 4, "float32"))
    from_arrays, from_dataset = AVTNet(config), AVTNet(config)
    from_arrays.adapt(inputs)
    from_dataset.adapt(tf.data.Dataset.from_tensor_slices((inputs, np.zeros(8, "int32"))))
    real_audio = inputs["audio"][inputs["present"][:, 0] > 0].reshape(-1, inputs["audio"].shape[-1])
    np.testing.assert_allclose(np.ravel(from_arrays.get_layer("audio_standardize").mean), real_audio.mean(0),
                               rtol=1e-5, atol=1e-6)
    for name in ("audio_standardize", "visible_standardize"):
        for statistic in ("mean", "variance"):
            np.testing.assert_allclose(np.ravel(getattr(from_arrays.get_layer(name), statistic)),
                                       np.ravel(getattr(from_dataset.get_layer(name), statistic)), rtol=1e-4,
                                       atol=1e-5)
    with pytest.raises(ValueError, match='adapt samples: expected a "present"'):
        from_arrays.adapt({"audio": inputs["audio"], "visible": inputs["visible"]})
    with pytest.raises(ValueError, match="adapt samples: no sample with audio present"):
        from_arrays.adapt({**inputs, "present": np.zeros((8, 2), "float32")})

def test_present_joint_tokens_embed_the_present_sensors_alone(tmp_path, rng):
    """joint_tokens "present": the joint embedding of a sample is the joint transformer and head run on the
    tokens of its present modalities alone, whatever the missing modalities' inputs hold; it trains, saves
    and loads, and reads "present"."""
    config = tiny_config(token_dim=16, image_filters=8, joint_tokens="present")
    model = AVTNet(config)
    assert model.input_shapes()["present"] == (3,) and "present" in model.serving_spec()
    present = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]], "float32")
    inputs = make_inputs(config, 4, rng, present)
    joint = numpy_outputs(model(inputs))["joint"]
    scrambled = dict(inputs)
    for index, modality in enumerate(config.modalities):
        noise = rng.normal(size=inputs[modality].shape).astype("float32") * 5
        absent = (1 - present[:, index]).reshape((4,) + (1,) * (inputs[modality].ndim - 1))
        scrambled[modality] = inputs[modality] + absent * noise
    np.testing.assert_allclose(numpy_outputs(model(scrambled))["joint"], joint, rtol=1e-5, atol=1e-6)
    token_layers = {"audio": "audio_branch", "visible": "visible_tokens", "thermal": "thermal_tokens"}
    tokens = keras.Model(model.inputs, {m: model.get_layer(name).output for m, name in token_layers.items()})(inputs)
    transformer, head = model.get_layer("joint_transformer"), model.get_layer("joint_embedding")
    for sample, bits in enumerate(present):
        kept = [m for m, bit in zip(config.modalities, bits) if bit]
        sequence = keras.ops.concatenate([tokens[m][sample:sample + 1] for m in kept], axis=1)
        expected = keras.ops.convert_to_numpy(head(transformer(sequence)))[0]
        np.testing.assert_allclose(joint[sample], expected, rtol=1e-4, atol=1e-5)
    all_tokens = numpy_outputs(AVTNet(config.replace(joint_tokens="all"))(scrambled))["joint"]
    assert all_tokens.shape == joint.shape
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(tiny_dataset(config, rng), epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    path = str(tmp_path / "present.keras")
    model.save(path)
    restored = numpy_outputs(keras.models.load_model(path)(scrambled))
    np.testing.assert_allclose(restored["joint"], numpy_outputs(model(inputs))["joint"], rtol=1e-5, atol=1e-6)


def test_present_joint_tokens_need_the_transformer_joint():
    with pytest.raises(ValueError, match="joint_tokens"):
        tiny_config(joint="dense", joint_tokens="present")
    with pytest.raises(ValueError, match="joint_tokens"):
        tiny_config(joint_tokens="some")


@pytest.mark.parametrize("joint_tokens", ["all", "present"])
def test_blocked_attention_loads_full_attention_weights_and_gives_its_outputs(joint_tokens, tmp_path, rng):
    """attention "blocked" (blocks of 5 of the 24 joint tokens: a ragged last block): the weights of a full-attention
    model load and give its embeddings, and one SGD step (model.fit's compiled gradients) changes both alike."""
    config = tiny_config(token_dim=16, image_filters=8, joint_tokens=joint_tokens, attention="full")
    full = AVTNet(config)
    path = str(tmp_path / "full.weights.h5")
    full.save_weights(path)
    blocked = AVTNet(config.replace(attention="blocked", attention_block=5))
    blocked.load_weights(path)
    assert isinstance(blocked.get_layer("joint_transformer").attention, BlockedMultiHeadAttention)
    present = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0], [1, 1, 1], [0, 0, 1], [1, 0, 1]], "float32")
    inputs = make_inputs(config, 6, rng, present)
    labels = np.array([0, 0, 1, 1, 2, 2])
    expected, result = numpy_outputs(full(inputs)), numpy_outputs(blocked(inputs))
    for name in full.embedding_names:
        np.testing.assert_allclose(result[name], expected[name], rtol=1e-5, atol=1e-6)
    losses = []
    for model in (full, blocked):
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        losses.append(model.train_on_batch(inputs, labels))
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    after_full, after_blocked = numpy_outputs(full(inputs)), numpy_outputs(blocked(inputs))
    for name in full.embedding_names:
        np.testing.assert_allclose(after_blocked[name], after_full[name], rtol=1e-4, atol=1e-5)


def test_blocked_attention_needs_no_dropout():
    with pytest.raises(ValueError, match="attention"):
        tiny_config(attention="blocked", dropout=0.1)
