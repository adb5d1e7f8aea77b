"""In-process tests of the obskit runtime (``obskit.init()`` and friends)."""
