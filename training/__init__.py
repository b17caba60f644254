"""Turns labelled files into a model artifact (`fit`) and a report (`evaluate`)."""
