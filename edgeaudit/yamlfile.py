"""Policy and inventory files as YAML nodes that remember where each value was written.

Every error names the file, the line and the problem (``policies/raci.yaml:12: ...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml

from edgeaudit.errors import InputError


def load_yaml(path: str | Path, what: str) -> Node:
    """Read and compose ``path`` (not construct: line numbers survive); refuse empty files."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise InputError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if node is None:
        raise InputError(f"{path}: the {what} is empty")
    return Node(str(path), node)


class Node:
    """A YAML mapping or sequence with the file and line of every value, for error messages."""

    def __init__(self, file: str, node: yaml.Node) -> None:
        self.file = file
        self.node = node

    def where(self, node: yaml.Node | None = None) -> str:
        return f"{self.file}:{(node or self.node).start_mark.line + 1}"

    def fail(self, message: str, node: yaml.Node | None = None) -> InputError:
        return InputError(f"{self.where(node)}: {message}")

    def mapping(self, allowed: set[str], required: set[str]) -> dict[str, Node]:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail("expected a mapping")
        out: dict[str, Node] = {}
        for k, v in self.node.value:
            key = k.value
            if key not in allowed:
                raise self.fail(f"unknown field {key!r} (allowed: {', '.join(sorted(allowed))})", k)
            if key in out:
                raise self.fail(f"field {key!r} appears twice", k)
            out[key] = Node(self.file, v)
        missing = required - set(out)
        if missing:
            raise self.fail(f"missing field(s): {', '.join(sorted(missing))}")
        return out

    def items(self) -> Iterator[Node]:
        if isinstance(self.node, yaml.ScalarNode) and self.node.value in ("", "~", "null"):
            return
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.fail("expected a list")
        for n in self.node.value:
            yield Node(self.file, n)

    def text(self, what: str) -> str:
        if not isinstance(self.node, yaml.ScalarNode) or self.node.value == "":
            raise self.fail(f"{what} must be a non-empty string")
        return str(self.node.value)

    def texts(self, what: str) -> tuple[str, ...]:
        if isinstance(self.node, yaml.ScalarNode):
            return (self.text(what),)
        return tuple(n.text(what) for n in self.items())

    def optional_text(self, what: str) -> str | None:
        if isinstance(self.node, yaml.ScalarNode) and self.node.tag.endswith(":null"):
            return None
        return self.text(what)

    def is_null(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag.endswith(":null")

    def integer(self, what: str, minimum: int | None = None) -> int:
        raw = self.text(what)
        try:
            value = int(raw, 10)
        except ValueError:
            raise self.fail(f"{what} must be an integer, not {raw!r}") from None
        if minimum is not None and value < minimum:
            raise self.fail(f"{what} must be at least {minimum}, not {value}")
        return value

    def boolean(self, what: str) -> bool:
        raw = self.text(what).lower()
        if raw in ("true", "yes", "on"):
            return True
        if raw in ("false", "no", "off"):
            return False
        raise self.fail(f"{what} must be true or false, not {raw!r}")

    def pairs(self, what: str) -> list[tuple[Node, Node]]:
        """A mapping with free keys (ids), as (key node, value node) in file order."""
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail(f"expected a mapping of {what}")
        seen: set[str] = set()
        out = []
        for k, v in self.node.value:
            if k.value in seen:
                raise self.fail(f"{what} {k.value!r} appears twice", k)
            seen.add(k.value)
            out.append((Node(self.file, k), Node(self.file, v)))
        return out

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def duration(self, what: str) -> int:
        """Seconds from ``90s``, ``15m``, ``4h``, ``365d`` or ``2w``."""
        raw = self.text(what).strip()
        unit = raw[-1:]
        if unit not in _UNITS or not raw[:-1].isdigit():
            raise self.fail(f"{what} must be a duration such as 90s, 15m, 4h, 365d, not {raw!r}")
        return int(raw[:-1]) * _UNITS[unit]

    def timestamp(self, what: str) -> str:
        """An RFC 3339 UTC time (``2026-09-30T00:00:00Z``), returned normalized."""
        from edgeaudit.events import parse_utc_time

        raw = self.text(what)
        try:
            return parse_utc_time(raw, what)[0]
        except InputError as exc:
            raise self.fail(str(exc)) from None

    def records(self, what: str) -> tuple[dict[str, str], ...]:
        """A list of flat mappings of text values."""
        out = []
        for item in self.items():
            if not isinstance(item.node, yaml.MappingNode):
                raise item.fail(f"{what}: each item must be a mapping")
            out.append(
                {k.value: Node(item.file, v).text(f"{what}.{k.value}") for k, v in item.node.value}
            )
        return tuple(out)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
