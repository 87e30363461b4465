"""BadgeCsvParser: the wider default list of alarm and denial names and the site's own names
(options ``events.*``)."""

from __future__ import annotations

import pytest

from edgeaudit.collect.parsers.badge_csv import BadgeCsvParser

from .test_badge_csv import ctx, run

HEADER = b"Time,Event,Door,Card Number,Cardholder\n"


def _parse(rows: list[str], **options: str):
    data = (
        HEADER
        + "".join(
            f"2026-08-03 10:00:{i:02d},{r},CAGE-1,40012345,Ravi Kumar\n" for i, r in enumerate(rows)
        ).encode()
    )
    return run(BadgeCsvParser(), data, ctx(options=options), "alarms.csv")


@pytest.mark.parametrize(
    ("name", "kind", "alarm", "reason"),
    [
        ("Tamper Alarm", "physical.tamper", None, None),
        ("Reader Tamper Alarm", "physical.tamper", None, None),
        ("Access Denied - Invalid Time Zone", "physical.denied", None, "Invalid Time Zone"),
        ("Access Denied \u2013 Invalid Time Zone", "physical.denied", None, "Invalid Time Zone"),
        ("Invalid Time Zone", "physical.denied", None, None),
        ("DOOR_AJAR", "physical.alarm", "held_open", None),
        ("Door Forced Open Alarm", "physical.alarm", "forced_open", None),
        ("Anti-Passback Violation", "physical.denied", None, None),
    ],
)
def test_other_spellings_of_the_common_products(
    name: str, kind: str, alarm: str | None, reason: str | None
) -> None:
    events, quarantined, _ = _parse([name])
    assert quarantined == []
    (e,) = events
    attrs = dict(e.attrs)
    assert e.kind == kind
    assert attrs.get("alarm") == alarm
    if reason is not None:
        assert attrs.get("reason") == reason


def test_a_sites_own_names_by_option_and_unknown_ones_still_quarantined() -> None:
    rows = ["Cabinet Open Alarm", "enclosure  breach", "Badge Rejected", "Something Else"]
    events, quarantined, _ = _parse(
        rows,
        **{
            "events.tamper": "Cabinet Open Alarm|Enclosure Breach",
            "events.denied": "Badge Rejected",
        },
    )
    assert [e.kind for e in events] == ["physical.tamper", "physical.tamper", "physical.denied"]
    assert len(quarantined) == 1
    assert "unknown event type" in quarantined[0].reason


def test_an_option_overrides_the_built_in_meaning() -> None:
    (e,), _, _ = _parse(["Door Ajar"], **{"events.forced_open": "door ajar"})
    assert (e.kind, dict(e.attrs)["alarm"]) == ("physical.alarm", "forced_open")
