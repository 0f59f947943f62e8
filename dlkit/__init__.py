"""dlkit: pretrain, fine-tune, evaluate and export NLP models from YAML alone."""

__version__ = "0.1.0"
