"""Models and tokenizers: transformers architectures and the classic baselines."""
