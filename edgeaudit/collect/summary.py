"""The counts of a collection run (:class:`CollectSummary`): events read, appended, duplicates,
quarantined, redacted, and the reasons records were skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_SKIP_REASONS = 50  # distinct skip reasons a summary names; the rest are counted together
OTHER_REASONS = "(other reasons)"


@dataclass(slots=True)
class CollectSummary:
    files: int = 0
    read: int = 0  # records fed to the parser
    events: int = 0
    appended: int = 0
    duplicates: int = 0
    quarantined: int = 0  # newly quarantined (repeats of already stored records not counted)
    skipped: int = 0  # well-formed records a parser deliberately did not turn into events
    redacted: int = 0  # events and quarantined records a secret was removed from
    skip_reasons: dict[str, int] = field(default_factory=dict)  # reason -> skipped records

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped += count
        reasons = self.skip_reasons
        if reason not in reasons and len(reasons) >= MAX_SKIP_REASONS:
            reason = OTHER_REASONS
        reasons[reason] = reasons.get(reason, 0) + count

    def add(self, other: CollectSummary) -> None:
        """Count ``other`` (e.g. one file's summary) into this one."""
        for name in ("files", "read", "events", "appended", "duplicates", "quarantined"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.redacted += other.redacted
        for reason, count in other.skip_reasons.items():
            self.skip(reason, count)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "read": self.read,
            "events": self.events,
            "appended": self.appended,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "skipped": self.skipped,
            "redacted": self.redacted,
            "skip_reasons": dict(sorted(self.skip_reasons.items(), key=lambda rc: (-rc[1], rc[0]))),
        }
