"""Loading plans: the reference plan unchanged, and every refusal naming its place in the file."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.durations import parse_duration
from models.gates import KpiGate
from models.plan import WebhookChannel
from models.plan_loader import PlanError, parse_plan
from tests.conftest import REFERENCE_PLAN

TEXT = REFERENCE_PLAN.read_text()


def problems(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml", env=env or {})
    return str(caught.value)


def test_reference_plan_loads_unchanged_with_its_durations():
    loaded = parse_plan(TEXT, env={})
    plan = loaded.plan
    assert [p.key for p in plan.phases] == [
        "planning",
        "mobilization",
        "knowledge_transfer",
        "pilot",
        "ramp",
        "hypercare",
    ]
    assert plan.phases[3].min_duration == timedelta(days=28)
    assert plan.phases[4].waves == [25, 50, 100]
    assert plan.escalation[1].after == timedelta(days=5)
    assert plan.cadence.business_review == timedelta(weeks=13)
    pilot_kpis = plan.phases[3].gates[0]
    assert isinstance(pilot_kpis, KpiGate) and pilot_kpis.periods == 2


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45s", 45),
        ("30m", 1800),
        ("36h", 129600),
        ("14d", 1209600),
        ("2w", 1209600),
        ("P14D", 1209600),
        ("PT36H", 129600),
        ("P1DT2H", 93600),
    ],
)
def test_durations_in_every_written_form(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["14x", "P", "PT", "-2d", "0d", "two weeks"])
def test_a_bad_duration_is_refused(text):
    with pytest.raises(ValueError, match="duration|longer than zero"):
        parse_duration(text)


def test_a_channel_names_its_setting_and_the_worker_resolves_it_so_no_secret_enters_the_plan():
    loaded = parse_plan(TEXT, env={"BPO_WEBHOOK_URL": "https://hooks.example/T0KEN"})
    assert [c.kind for c in loaded.plan.notifications] == ["log", "webhook", "email"]
    webhook = loaded.plan.notifications[1]
    assert isinstance(webhook, WebhookChannel) and webhook.url == "${BPO_WEBHOOK_URL}"
    assert "T0KEN" not in loaded.plan.model_dump_json()
    assert loaded.warnings == [
        "notifications[2].smtp: BPO_SMTP_URL is not set here; a worker without it skips the email channel"
    ]


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("client: ACME Corp", "client: ${CLIENT_NAME}", "plan.yaml:10: client: ${CLIENT_NAME}"),
        (
            "url: ${BPO_WEBHOOK_URL}",
            "url: https://x.example/${TEMPORAL_API_KEY}",
            "notifications[1].url: ${TEMPORAL_API_KEY}",
        ),
    ],
)
def test_a_plan_may_name_no_other_setting_anywhere(old, new, where):
    assert old in TEXT
    assert f"{where} is not a setting a plan may name" in problems(TEXT.replace(old, new))


def test_unknown_kpi_in_a_gate_names_its_place_and_the_known_ones():
    text = TEXT.replace("metrics: [csat, error_rate, first_response_hours]\n", "metrics: [csat, csat_score]\n", 1)
    assert (
        "phases[3].gates[0].metrics[1]: unknown KPI 'csat_score'; known: assessment_score, cost_per_contact"
        in problems(text)
    )


def test_every_problem_is_reported_at_once_with_its_line():
    text = (
        TEXT.replace(
            "roles: [program_manager]}\n      - key: slas_signed", "roles: [progam_manager]}\n      - key: slas_signed"
        )
        .replace("back_to: knowledge_transfer", "back_to: ramp")
        .replace("due: 14d", "due: 14 days")
    )
    report = problems(text)
    lines = report.splitlines()
    assert len(lines) == 1  # a bad value stops the cross-checks, which need every value sound
    assert "plan.yaml:147: phases[0].due: '14 days' is not a duration" in report
    report = problems(text.replace("due: 14 days", "due: 14d"))
    assert "phases[0].gates[0].approvers.roles[0]: unknown role 'progam_manager'" in report
    assert "phases[0].gates[0].approvers: no one on the roster holds progam_manager" in report
    assert "phases[3].on_reject.back_to: back_to 'ramp' comes after 'pilot'" in report
    assert all(line.startswith("plan.yaml:") for line in report.splitlines())


def test_duplicate_yaml_key_is_refused():
    text = TEXT.replace("    better: higher\n    sla: 85\n", "    better: higher\n    sla: 85\n    sla: 80\n", 1)
    assert "kpis[0].sla: key 'sla' appears twice" in problems(text)


def test_duplicate_keys_in_lists_are_refused():
    text = TEXT.replace("  - key: chat_support", "  - key: email_support")
    assert "scope[1].key: scope process 'email_support' appears twice" in problems(text)


def test_a_kind_of_channel_listed_twice_is_refused_with_its_line():
    """Two webhooks would share each notice's sent row: the second taken for sent with the first."""
    second = "  - kind: webhook\n    url: https://hooks.example/other\n"
    text = TEXT.replace("  - kind: email\n", second + "  - kind: email\n", 1)
    line = text[: text.index(second)].count("\n") + 1
    said = problems(text)
    assert f"plan.yaml:{line}: notifications[2].kind: a second 'webhook' channel: list each kind once" in said
    assert "notifications[1]" not in said, "the first of the kind is the one kept"


def test_approval_quorum_no_roster_can_reach_is_refused():
    text = TEXT.replace("approvers: {roles: [executive_sponsor]}", "approvers: {roles: [executive_sponsor], quorum: 2}")
    assert "quorum 2 needs that many people holding executive_sponsor; the roster has 1" in problems(text)


def test_unknown_key_and_unknown_gate_kind_are_refused():
    text = TEXT.replace("kind: roster", "kind: rooster").replace("    unit: percent\n", "    units: percent\n", 1)
    report = problems(text)
    assert "kpis[0].units: unknown key 'units'" in report
    assert "phases[1].gates[0]: unknown kind 'rooster'" in report


@pytest.mark.parametrize(
    "text",
    [
        "name: !!python/object/apply:os.system [ls]\n",
        "name: [unclosed\n",
        "- a list\n",
        "",
        "a: !include /etc/passwd\n",
    ],
)
def test_hostile_or_broken_yaml_is_a_problem_not_a_crash(text):
    assert problems(text).startswith("plan.yaml")


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("starts_on: 2027-01-04", "starts_on: 2027-02-30", "plan.yaml:12: starts_on: 2027-02-30 "),
        ("starts_on: 2027-01-04", "starts_on: 2027-01-04\ncalendar: {holidays: [2027-04-31]}", "calendar.holidays[0]"),
    ],
)
def test_an_impossible_date_is_a_problem_at_its_place_not_a_crash(old, new, where):
    found = problems(TEXT.replace(old, new, 1))
    assert where in found and "is not a day of the calendar" in found, found


def test_json_schema_names_every_top_level_key():
    from models.plan import Plan

    schema = Plan.model_json_schema()
    assert {"name", "people", "phases", "kpis", "steady_state"} <= set(schema["properties"])


def test_an_alias_bomb_is_refused_at_its_first_anchor_without_expanding_it():
    bomb = "name: x\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    bomb += "".join(f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
    assert problems(bomb) == "plan.yaml:2: (top): YAML anchor '&a' is not allowed in a plan: write it out"


@pytest.mark.parametrize(
    ("due", "message"),
    [
        ("900000000d", "'900000000d' is longer than 10 years"),
        ("0.5s", "'0.5s' is shorter than 1s"),
        ("1.5s", "'1.5s' is not a whole number of seconds"),
    ],
)
def test_durations_that_would_jam_a_workflow_are_refused_with_their_line(due, message):
    text = REFERENCE_PLAN.read_text().replace("due: 14d", f"due: {due}", 1)
    assert problems(text).startswith(f"plan.yaml:147: phases[0].due: {message}")
