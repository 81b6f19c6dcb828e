"""Transition ids in the web app's addresses: a transition's own (``/t/ID``) or a program's
workstream's (``/t/PROGRAM/KEY``), under every page and API route that takes one.

Routes write ``{transition_id:tid}``. A workstream's key is never the name of a page under a
transition (`models.workstreams.RESERVED_KEYS`), so ``/t/P/report`` is program P's report and
``/t/P/email/report`` workstream email's, whatever order the routes are declared in. The id itself
is checked where it is used (`bpo.api`), which refuses a malformed one in words.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from models.workstreams import RESERVED_KEYS

PAGES = "|".join(RESERVED_KEYS)


class TransitionIdConvertor(Convertor[str]):
    """``ID`` or ``PROGRAM/KEY``, the second part never a page's name."""

    regex = rf"[^/]+(?:/(?!(?:{PAGES})(?:/|$))[^/]+)?"

    def convert(self, value: str) -> str:
        """The id as written."""
        return value

    def to_string(self, value: str) -> str:
        """The id as an address carries it."""
        return value


register_url_convertor("tid", TransitionIdConvertor())
