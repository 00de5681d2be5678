"""Cross-replica helpers for losses that mine the whole batch.

Under the TensorFlow backend inside a `tf.distribute` replica context each
replica sees its share of the global batch; batch-hard mining must see all of
it (pytorch-metric-learning's DistributedLossWrapper gathers embeddings the
same way). Other backends and single-replica runs see the global batch
already, so both helpers are identities there. TensorFlow is imported lazily,
only under its backend, as Keras' own `scale_loss_for_distribution` does.
"""

import keras


def _replica_context():
    """The tf.distribute replica context when there are several replicas in sync, else None."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def num_replicas():
    """Replicas training in sync (1 outside a multi-replica tf.distribute step)."""
    context = _replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def global_batch(*tensors):
    """Each tensor with its batch axis gathered across replicas, in replica order.

    Differentiable: the gradient reaching a gathered tensor is summed over
    replicas and each replica keeps the slice of its own samples. So a loss
    computed on the global batch and divided by `num_replicas()` on every
    replica gives, once Keras sums the replicas' gradients, the gradient of
    the single-device loss on the same global batch. Returns a tuple.
    """
    context = _replica_context()
    if context is None:
        return tensors
    import tensorflow as tf

    # An input tensor reaches a worker's only replica with no device, and the gather needs one
    # (MultiWorkerMirroredStrategy, TensorFlow 2.17): a copy made here is placed on the replica's device.
    return tuple(context.all_gather(tf.identity(tensor), axis=0) for tensor in tensors)


def batch_normalization(**kwargs):
    """A keras BatchNormalization whose batch statistics cover the global batch.

    Synchronised across replicas under the TensorFlow backend (Keras supports
    `synchronized` there alone; other backends see the global batch already),
    so a multi-replica step normalises exactly as one device would.
    """
    return keras.layers.BatchNormalization(synchronized=keras.backend.backend() == "tensorflow", **kwargs)
