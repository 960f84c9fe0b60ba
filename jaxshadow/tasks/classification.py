"""Image classification: softmax cross-entropy on logits, accuracy.

Batch: {'image': uint8 (N, H, W, C), 'label': int32 (N,)}; evaluation batches also carry
'valid': float32 (N,), 0 for padding rows.
"""

import dataclasses

import jax.numpy as jnp
import optax


@dataclasses.dataclass(frozen=True)
class ClassificationTask:
    num_classes: int

    def prepare(self, batch, key, train):
        """-> {'input': float32 images in [0, 1], 'label'} (+ 'valid'). No augmentation."""
        del key, train
        return {**batch, "input": batch["image"].astype(jnp.float32) / 255.0}

    def loss(self, logits, batch):
        """Mean cross-entropy over the batch, and the batch accuracy."""
        labels = batch["label"]
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        accuracy = jnp.mean(jnp.argmax(logits, -1) == labels)
        return loss, {"accuracy": accuracy}

    def eval_sums(self, logits, batch):
        """Sums over the valid rows: loss, correct predictions, count."""
        valid = batch["valid"]
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])
        correct = (jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32)
        return {"loss": jnp.sum(losses * valid), "correct": jnp.sum(correct * valid),
                "count": jnp.sum(valid)}

    def summarize(self, sums):
        """Summed statistics over the whole split -> {'loss', 'accuracy'}."""
        count = max(float(sums["count"]), 1.0)
        return {"loss": float(sums["loss"]) / count, "accuracy": float(sums["correct"]) / count}
