"""The settings path of obskit 0.1.0: ``"obskit._django.RouteMiddleware"`` in ``MIDDLEWARE``.

Kept so existing settings keep working; new settings use ``obskit.django.RouteMiddleware``.
"""

from __future__ import annotations

from obskit.django import RouteMiddleware

__all__ = ["RouteMiddleware"]
