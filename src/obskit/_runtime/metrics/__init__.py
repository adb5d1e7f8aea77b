"""Metrics: the RED histograms and counters, and multi-worker merging."""
