"""Recognition of enrolled people from a trained model's embeddings: the gallery file and its scoring."""
