"""The error every `bpo` command turns into a sentence and an exit code; light to import."""

from __future__ import annotations


class BpoError(Exception):
    """Something a person asked for that cannot be done; ``refused`` when it is their input."""

    def __init__(self, message: str, *, refused: bool = True, kind: str = "Refused") -> None:
        super().__init__(message)
        self.refused = refused
        self.kind = kind
