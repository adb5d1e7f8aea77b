"""End-to-end tests of ``obskit.init()`` against real uvicorn, gunicorn and Flask processes."""
