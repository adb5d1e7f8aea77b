"""Framework and server hooks: one module per framework or server."""
