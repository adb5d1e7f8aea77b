"""The Django service under test, as a user's ``wsgi.py`` with ``obskit.init()`` on top.

``obskit.init()`` runs before Django is imported (obskit patches Django's handlers as they are
imported).  ``DJ_SETTINGS_PATH=1`` adds the documented settings path on top: the route
middleware in ``MIDDLEWARE`` and ``obskit.instrument(...)`` around the handler (with automatic
instrumentation on, both apply: nothing may be measured twice; with
``OBSKIT_INSTRUMENT_FRAMEWORKS=false`` the settings path alone does the work).
"""

from __future__ import annotations

import os

import obskit

obskit.init("e2e-django", service_version="1.2.3", environment="e2e")

import djproject  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

SETTINGS_PATH = os.environ.get("DJ_SETTINGS_PATH") == "1"
djproject.configure(route_middleware=SETTINGS_PATH)
application = get_wsgi_application()
if SETTINGS_PATH:
    application = obskit.instrument(application)
