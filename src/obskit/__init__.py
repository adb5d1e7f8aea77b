"""obskit: production observability for a Python service in one line, and SLOs as code.

The runtime API (``init``, ``instrument``, ``observe``, ``shutdown`` …) is added by the runtime
modules; the SLO compiler lives in :mod:`obskit.slo` and the shared names in
:mod:`obskit.conventions`.
"""

from obskit._version import __version__

__all__ = ["__version__"]
