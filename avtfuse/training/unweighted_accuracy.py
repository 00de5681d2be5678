"""Unweighted accuracy (UA, macro recall) as a streaming Keras metric, for early stopping on val_ua."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="avtfuse")
class UnweightedAccuracy(keras.metrics.Metric):
    """Mean per-class recall over the classes seen in y_true (= sklearn `balanced_accuracy_score`).

    Accumulates a [C, C] confusion matrix (rows: true, columns: argmax of
    y_pred) over batches, so the value is that of all batches since the last
    `reset_state`, not a mean of batch values; a class that never occurs in
    y_true is left out of the mean, and no data gives 0. Counts are summed
    across replicas under a distribution strategy. Labels outside 0..C-1 are
    ignored.

    update_state(y_true, y_pred, sample_weight=None): y_true int [B] (or
    [B, 1]) sparse labels; y_pred float [B, C] probabilities or logits;
    sample_weight optional [B], weighting each sample's count.
    """

    def __init__(self, num_classes, name="ua", **kwargs):
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes: expected an integer >= 2, got {num_classes!r}")
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes), initializer="zeros", dtype="float32",
            aggregation="sum", name="confusion_matrix",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_true.shape) == 2 and y_true.shape[1] == 1:
            y_true = ops.squeeze(y_true, axis=1)
        if len(y_true.shape) != 1:
            raise ValueError(f"y_true: expected sparse labels [batch], got shape {y_true.shape}")
        if len(y_pred.shape) != 2 or y_pred.shape[1] not in (None, self.num_classes):
            raise ValueError(f"y_pred: expected [batch, {self.num_classes}], got shape {y_pred.shape}")
        true = ops.one_hot(ops.cast(y_true, "int32"), self.num_classes, dtype="float32")
        predicted = ops.one_hot(ops.argmax(y_pred, axis=-1), self.num_classes, dtype="float32")
        if sample_weight is not None:
            weights = ops.reshape(ops.cast(sample_weight, "float32"), (-1, 1))
            true = true * weights
        self.confusion.assign_add(ops.matmul(ops.transpose(true), predicted))

    def result(self):
        support = ops.sum(self.confusion, axis=1)
        seen = support > 0
        recall = ops.diagonal(self.confusion) / ops.where(seen, support, ops.ones_like(support))
        classes = ops.sum(ops.cast(seen, "float32"))
        return ops.sum(recall) / ops.maximum(classes, 1.0)

    def reset_state(self):
        self.confusion.assign(ops.zeros_like(self.confusion))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
