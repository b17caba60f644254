"""The HTTP service over a model artifact; knows nothing of training."""
