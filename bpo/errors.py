"""The error every `bpo` command turns into a sentence and an exit code; light to import."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for its type: the rules' package is not light to import
    from workflows.rules.refusals import RefusalKind


class BpoError(Exception):
    """Something a person asked for that cannot be done; ``refused`` when it is their input.

    ``kind`` is a `RefusalKind`, or the name of one as it came back from the workflow."""

    def __init__(self, message: str, *, refused: bool = True, kind: RefusalKind | str = "Refused") -> None:
        super().__init__(message)
        self.refused = refused
        self.kind = kind
