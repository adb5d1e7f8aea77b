"""Traces: the tracer provider and export, lean server spans, OTLP encoding, propagation."""
