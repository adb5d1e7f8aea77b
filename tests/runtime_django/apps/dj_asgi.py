"""The Django service as a user's ``asgi.py``: ``obskit.init()``, then the ASGI handler."""

from __future__ import annotations

import obskit

obskit.init("e2e-django", service_version="1.2.3", environment="e2e")

import djproject  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

djproject.configure()
application = get_asgi_application()
