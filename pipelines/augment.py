"""SpecAugment-style masks on the log-mel input of training batches, drawn statelessly.

Each present spectrogram [T, F] gets one frequency band of w_f < width bands and one time span of w_t < width
frames (w drawn uniformly, then the start uniformly where the band fits, as tensorflow-io's `freq_mask` /
`time_mask` draw them), filled with the sample's own mean level (a log-mel in dB: a band of 0 dB would be loud).
The draws are a function of (seed, batch index) alone (`tf.random.stateless_uniform`), and a run's batches are a
function of (seed, epoch), so a resumed run masks exactly what an uninterrupted one masked.
"""

import tensorflow as tf


class SpecAugment:
    """Maps an enumerated training batch (index, (inputs, labels)) -> (inputs, labels) with the masks above on
    inputs["audio"] float32 [B, T, F]; a missing audio (present bit 0) stays as it is. Use after batching and
    `Dataset.enumerate()`; `seed`: an int, the epoch's seed."""

    def __init__(self, width, seed):
        if int(width) != width or width < 1:
            raise ValueError(f"width must be a positive integer, got {width!r}")
        self.width = int(width)
        self.seed = int(seed)

    def band(self, uniforms, size):
        """Boolean [B, size]: one band per sample, w = floor(u0 * width) (at most size) wide, starting at
        floor(u1 * (size - w)). uniforms: float32 [B, 2] in [0, 1)."""
        widths = tf.minimum(tf.cast(uniforms[:, 0] * self.width, tf.int32), size)
        starts = tf.cast(uniforms[:, 1] * tf.cast(size - widths, tf.float32), tf.int32)
        positions = tf.range(size)[None, :]
        return (positions >= starts[:, None]) & (positions < (starts + widths)[:, None])

    def __call__(self, index, batch):
        inputs, labels = batch
        audio = inputs["audio"]
        shape = tf.shape(audio)
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(index, tf.int64)])
        uniforms = tf.random.stateless_uniform([shape[0], 4], seed=seed)
        masked = self.band(uniforms[:, 2:], shape[1])[:, :, None] | self.band(uniforms[:, :2], shape[2])[:, None, :]
        level = tf.reduce_mean(audio, axis=[1, 2], keepdims=True)
        present = inputs["present"][:, :1, None] > 0  # audio's bit: a missing audio stays zeros
        return {**inputs, "audio": tf.where(masked & present, level, audio)}, labels
