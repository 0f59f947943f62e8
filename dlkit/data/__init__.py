"""Datasets read from local files (or a hub), tokenized once and cached on disk."""
