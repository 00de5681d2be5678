"""SpecAugment-style masks on the log-mel input of training batches (tensorflow-io's masks, in the graph).

tensorflow-io's `freq_mask` / `time_mask` fill a random band of each
spectrogram with zeros; a log-mel in dB is shifted by its own mean first, so
that the masked band holds the sample's mean level rather than 0 dB. The
masks draw from TensorFlow's global random state (tensorflow-io takes no
seed): a run with masks is repeatable from its start, but a resumed run does
not redraw the masks an uninterrupted one drew.
"""

import tensorflow as tf
import tensorflow_io as tfio


class SpecAugment:
    """Maps a training batch (inputs, labels): each audio spectrogram [T, F] gets one frequency mask of up to
    `width` bands and one time mask of up to `width` frames, at random. Use in `Dataset.map` after batching."""

    def __init__(self, width):
        if int(width) != width or width < 1:
            raise ValueError(f"width must be a positive integer, got {width!r}")
        self.width = int(width)

    def mask(self, spectrogram):
        """float32 [T, F] -> [T, F] with one frequency band and one time span set to the spectrogram's mean."""
        level = tf.reduce_mean(spectrogram)
        centred = spectrogram - level
        return tfio.audio.time_mask(tfio.audio.freq_mask(centred, self.width), self.width) + level

    def __call__(self, inputs, labels):
        audio = tf.map_fn(self.mask, inputs["audio"])
        masked = tf.where(inputs["present"][:, :1, None] > 0, audio, inputs["audio"])  # a missing audio stays zeros
        return {**inputs, "audio": masked}, labels
