"""Every built-in parser is found through its entry point, as a third party's would be."""

from __future__ import annotations

import pytest

from edgeaudit.collect.interface import is_parser
from edgeaudit.collect.registry import kinds, parser_class
from edgeaudit.errors import InputError

BUILT_IN = {
    "syslog",
    "sudo-json",
    "journald",
    "auditd",
    "teleport",
    "vault",
    "vault-keystate",
    "cloudtrail",
    "kms-rotation",
    "badge-csv",
}


def test_every_built_in_kind_is_registered() -> None:
    assert set(kinds()) >= BUILT_IN


@pytest.mark.parametrize("kind", sorted(BUILT_IN))
def test_each_parser_loads_and_names_itself(kind: str) -> None:
    cls = parser_class(kind)
    assert is_parser(cls)
    assert cls.name == kind
    assert cls.framing in ("lines", "file")
    assert isinstance(cls.stateful, bool)


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"unknown source kind 'nope'; known: .*syslog"):
        parser_class("nope")
