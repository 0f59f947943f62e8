"""Extractive question answering (SQuAD v1.1): a span of the context as the answer."""
