"""Every built-in parser is found through its entry point, as a third party's would be."""

from __future__ import annotations

import pytest

from edgeaudit.collect.interface import is_parser
from edgeaudit.collect.registry import kinds, parser_class
from edgeaudit.errors import InputError
from tests.collect import BUILT_IN_KINDS

BUILT_IN = BUILT_IN_KINDS


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
