"""obskit's runtime: what ``obskit.init()`` wires (see ``docs/architecture.md``).

Nothing is imported here: ``import obskit`` and ``obskit slo build`` stay cheap.
"""
