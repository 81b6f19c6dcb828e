"""Attacks on seeing a program (issue #27): the web app, its JSON API and `bpo list`. A workstream's id
(`PROGRAM/KEY`) reaches the same routes as any transition's ("every command, page and API route
that takes a transition id takes a workstream's"). Fails while the routes stop at the `/`."""

from __future__ import annotations

import pytest
from starlette.routing import Match

from bpo.web import api, control, pages


def route_for(router, method: str, path: str) -> tuple[str, dict] | None:
    """The route ``path`` reaches, with its parameters, as Starlette matches it."""
    for route in router.routes:
        match, child = route.matches({"type": "http", "path": path, "method": method, "root_path": ""})
        if match == Match.FULL:
            return route.path, child.get("path_params", {})
    return None


@pytest.mark.parametrize(
    ("router", "method", "path", "gate"),
    [
        (api.router, "GET", "/api/transitions/{id}", None),
        (api.router, "POST", "/api/transitions/{id}/gates/process_maps/tick", "process_maps"),
        (api.router, "POST", "/api/transitions/{id}/readings", None),
        (control.router, "GET", "/t/{id}", None),  # the transition page, with its forms
        (pages.router, "GET", "/t/{id}/gates/hypercare_exit", "hypercare_exit"),
        (pages.router, "GET", "/t/{id}/kpi", None),
        (pages.router, "GET", "/t/{id}/report", None),
    ],
)
def test_a_workstreams_id_reaches_every_route_a_transitions_does(router, method, path, gate):
    plain = route_for(router, method, path.format(id="acme-contact-centre"))
    assert plain is not None and plain[1]["transition_id"] == "acme-contact-centre"  # the route exists
    found = route_for(router, method, path.format(id="acme-contact-centre/email"))
    assert found is not None, f"{method} {path.format(id='acme-contact-centre/email')}: no route (404)"
    assert found[0] == plain[0] and found[1]["transition_id"] == "acme-contact-centre/email", found
    if gate:
        assert found[1]["gate"] == gate, found


def test_bpo_list_takes_a_program():
    """The issue and semantics.md: "`bpo list --program ID` lists them". `bpo list` has no such
    option: argparse stops with exit 2."""
    from starter import build_parser

    try:
        args = build_parser().parse_args(["list", "--program", "acme-contact-centre"])
    except SystemExit as exit_:
        raise AssertionError(f"bpo list --program: exit {exit_.code}") from None
    assert args.program == "acme-contact-centre"
