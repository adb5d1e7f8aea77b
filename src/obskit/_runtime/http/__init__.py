"""HTTP: the ASGI and WSGI middleware (one request path) and the ``/metrics`` exposition."""
