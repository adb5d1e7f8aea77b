"""A settings module (``DJANGO_SETTINGS_MODULE=dj_settings``) that calls ``obskit.init()``: the
layout ``django-admin startproject`` gives, with obskit's one line in ``settings.py``."""

from __future__ import annotations

import obskit

obskit.init("e2e-django", service_version="1.2.3", environment="e2e")

import djproject  # noqa: E402

globals().update(djproject.settings_dict())
