"""The one error type of the compiler: a problem in an input file, located to the field."""

from __future__ import annotations


class SpecError(Exception):
    """A spec problem, rendered as ``path:line: field: message``.

    The CLI prints every :class:`SpecError` of a run (no traceback) and exits 2 without writing.
    ``line`` is 1-based; 0 when unknown (e.g. the file could not be read at all).
    """

    def __init__(self, path: str, line: int, field: str, message: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class SpecErrors(Exception):
    """Several :class:`SpecError` s collected from one run, reported together."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
