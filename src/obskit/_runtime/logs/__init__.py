"""Logs: the structlog pipeline, its JSON rendering, and the stdlib bridge."""
