"""What a verification found, as plain values (rendered as text or JSON by the CLI)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One contradiction, located as precisely as the evidence allows."""

    code: str
    message: str
    index: int | None = None
    expected: str | None = None
    found: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        text = self.message
        if self.expected is not None or self.found is not None:
            text += f" (expected {self.expected}, found {self.found})"
        return text


@dataclass(frozen=True, slots=True)
class VerifyReport:
    origin: str
    tree_size: int
    entries_checked: int
    checkpoints_checked: int
    root_hash: str
    trusted_checkpoint: int | None
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "entries_checked": self.entries_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "root_hash": self.root_hash,
            "trusted_checkpoint_size": self.trusted_checkpoint,
            "problems": [p.to_dict() for p in self.problems],
        }
