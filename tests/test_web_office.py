"""Who may start a transition from the web app, and who may fill the evidence store, through the
real parts: a dev server, a worker, `bpo web` with mail to a real SMTP server, sign-in by link,
and single sign-on through a real OpenID Connect provider (`oidc-provider` on the machine's
Node.js) whose tokens carry a `groups` claim."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from infra.db import make_engine
from infra.links import mint_link
from tests.stack import DANA, EVE, LI, REFERENCE_PLAN, Stack, sso_web_stack, wait_until
from tests.web_client import Person, text_of, through_provider

pytestmark = pytest.mark.e2e
TID = "acme-tier-1-support-to-northstar-bpo"
OFFICE_GROUP, PMO, SALES = "bpo-program-office", "pmo@acme.example", "sales@acme.example"
REFUSED = "Starting a transition is for the program office (BPO_PROGRAM_OFFICE)"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """The engine with the web app; the program office is Li by address and the group
    `bpo-program-office` of the identity provider, which gives it to pmo@ and not to sales@."""
    groups = {PMO: [OFFICE_GROUP, "staff"], SALES: ["staff"]}
    office = {"BPO_PROGRAM_OFFICE": f"{LI.upper()}, {OFFICE_GROUP}"}
    with sso_web_stack(tmp_path_factory.mktemp("office"), groups, **office) as stack:
        yield stack


def by_link(web: Stack, address: str) -> Person:
    """``address`` signed in through a link made for them, as /login would mail it."""
    person = Person(web.web_url)
    token = mint_link(make_engine(f"sqlite:///{web.data_dir / 'audit.db'}"), address, "/", timedelta(hours=1))
    assert person.sign_in(f"{web.web_url}/login/link/{token}").status_code == 303
    return person


def by_sso(web: Stack, address: str) -> Person:
    """``address`` signed in through the identity provider: its login and consent forms filled in
    as a browser would, redirects followed until the web app opens a session."""
    person = Person(web.web_url)
    callback = through_provider(person.http, person.http.get("/login/oidc"), address, f"{web.web_url}/login/oidc/callback")
    person.http.get(callback)
    assert "bpo_session" in person.http.cookies, callback
    return person


def new_plan(name: str, eve_sponsors: bool = False, li_steps_back: bool = False) -> bytes:
    """The reference plan under another name; with ``eve_sponsors``, Eve (an SME on the demo's
    roster) makes herself an executive sponsor of it, as an uploader who wants the right could;
    with ``li_steps_back``, Li is no program manager on it (Eve is), only a point of contact."""
    text = REFERENCE_PLAN.read_text().replace("name: ACME Tier-1 support to NorthStar BPO", f"name: {name}", 1)
    if li_steps_back:
        text = text.replace("roles: [program_manager, point_of_contact]", "roles: [point_of_contact]", 1)
        text = text.replace("roles: [sme, qa_lead]", "roles: [sme, qa_lead, program_manager]", 1)
    if eve_sponsors:
        text = text.replace("roles: [sme, qa_lead]", "roles: [sme, qa_lead, executive_sponsor, program_manager]", 1)
    return text.encode()


def listed(web: Stack) -> str:
    return web.ok("list")


def test_a_roster_member_outside_the_program_office_is_refused_whatever_the_uploaded_plan_makes_her(web):
    eve = by_link(web, EVE)
    home = text_of(eve.get("/").text)
    assert "Start a transition" not in home
    form = eve.get("/start")
    assert form.status_code == 403 and REFUSED in text_of(form.text) and EVE in text_of(form.text)
    before = listed(web)
    # Her own plan makes her its executive sponsor and program manager: that gives no right to start.
    upload = {"plan": ("mine.yaml", new_plan("Eve starts her own", eve_sponsors=True))}
    refused = eve.submit("/start", {}, "/", files=upload)
    assert refused.status_code == 403 and REFUSED in text_of(refused.text)
    assert listed(web) == before, "nothing was started"
    assert "eve-starts-her-own" not in listed(web)


def test_a_listed_address_starts_a_transition_in_which_it_holds_no_lead_role(web):
    li = by_link(web, LI)
    assert "Start a transition" in text_of(li.get("/").text)
    plan = new_plan("Li starts this one", li_steps_back=True)
    started = li.submit("/start", {}, files={"plan": ("plan.yaml", plan)})
    assert started.status_code == 303, text_of(started.text)
    tid = started.headers["location"].removeprefix("/t/")
    assert tid == "li-starts-this-one"
    assert tid in listed(web)
    assert web.status(tid)["phase"] == "planning"
    assert web.status(tid)["started_by"] == LI  # the web user, in a start the app signed


def test_single_sign_on_with_a_listed_group_starts_one_and_without_it_is_refused(web):
    pmo = by_sso(web, PMO)
    assert "Start a transition" in text_of(pmo.get("/").text)
    started = pmo.submit("/start", {}, files={"plan": ("plan.yaml", new_plan("Started by the office group"))})
    assert started.status_code == 303, text_of(started.text)
    assert "started-by-the-office-group" in listed(web)

    sales = by_sso(web, SALES)
    assert sales.get("/start").status_code == 403
    refused = sales.submit("/start", {}, "/", files={"plan": ("plan.yaml", new_plan("Sales would start this"))})
    assert refused.status_code == 403 and REFUSED in text_of(refused.text)
    assert "sales-would-start-this" not in listed(web)


def test_an_upload_by_someone_who_may_not_approve_the_gate_writes_nothing_to_the_evidence_store(web):
    store = Path(web.data_dir) / "evidence"
    gate = f"/t/{TID}/gates/slas_signed"
    eve = by_link(web, EVE)
    file = {"evidence_file": ("fill-the-store.pdf", b"%PDF-1.4 " + b"x" * 4096, "application/pdf")}
    refused = eve.submit(gate, {"action": "approve"}, files=file)
    assert refused.status_code == 409 and "was not kept" in text_of(refused.text), text_of(refused.text)
    assert not [p for p in store.rglob("*") if p.is_file()], "a refused person's file is not kept"
    # The sponsor, who may approve, gets her file kept and pinned as before.
    dana = by_link(web, DANA)
    kept = dana.submit(gate, {"action": "approve"}, files={"evidence_file": ("sla.pdf", b"%PDF-1.4 signed", "x")})
    assert kept.status_code == 303, text_of(kept.text)
    assert wait_until(lambda: [p for p in store.rglob("*") if p.is_file()], 20)


@pytest.mark.parametrize(
    ("listed", "email", "groups", "may"),
    [
        ("Dana@Acme.example", "dana@acme.example", (), True),  # an address, whatever its case
        ("pmo", "raj@northstar.example", ("pmo",), True),  # a group from the identity provider
        ("dana@acme.example", "eve@evil.example", ("dana@acme.example",), False),  # a group named like an address
        ("pmo", "pmo", (), False),  # an address named like a group
        ("PMO", "raj@northstar.example", ("pmo",), False),  # groups match exactly
    ],
)
def test_the_program_office_matches_addresses_with_addresses_and_groups_with_groups(listed, email, groups, may):
    from bpo.web.office import may_start
    from bpo.web.sessions import Visitor
    from infra.settings import Settings

    me = Visitor(email=email, via="web-oidc", operator="x", groups=groups)
    assert may_start(Settings(BPO_PROGRAM_OFFICE=listed), me) is may


def answered_before_the_body(web: Stack, path: str, cookie: str = "") -> str:
    """The status line the web app answers a multipart POST that declares 200 MB and sends a few
    bytes of it: a server that reads the body first never answers (the socket times out)."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(web.web_url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {where.hostname}:{where.port}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {200 * 1024 * 1024}\r\n{cookie}\r\n--b\r\n"
    )
    with socket.create_connection((where.hostname, where.port), timeout=15) as s:
        s.sendall(head.encode())
        return s.recv(200).decode(errors="replace").split("\r\n")[0]


def test_an_upload_is_never_read_before_its_sender_is_known_nor_past_the_limit(web):
    # Nobody fills the web app's disk: an anonymous file is sent to sign in, a signed-in one past
    # the limit is refused, both before any of the body is read.
    assert answered_before_the_body(web, "/t/any/gates/any").endswith("303 See Other")
    assert answered_before_the_body(web, "/start").endswith("303 See Other")
    li = by_link(web, LI)
    cookie = f"Cookie: bpo_session={li.http.cookies['bpo_session']}\r\n"
    assert answered_before_the_body(web, "/t/any/gates/any", cookie).endswith("413 Request Entity Too Large")
    assert answered_before_the_body(web, "/start", cookie).endswith("413 Request Entity Too Large")
