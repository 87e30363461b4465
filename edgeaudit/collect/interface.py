"""The collector interface: how a source format becomes normalized events.

A parser is a class registered under the entry-point group ``edgeaudit.parsers`` (built-ins
register the same way a third party would). The runner reads the input, frames it, and feeds
:class:`RawRecord` values to :meth:`Parser.parse`, which yields :class:`Event`,
:class:`Quarantined` and, for parsers that keep state across records, :class:`Resume` markers.

Rules every parser follows:

* it never raises for bad input: a record it cannot parse is yielded as :class:`Quarantined`
  with the reason (the runner also quarantines a record if a parser raises anyway);
* it resolves identities, assets and keys through :class:`ParseContext`; unknown ones stay
  visible as unresolved, never dropped;
* times become RFC 3339 UTC; sources without a zone use ``ctx.timezone`` (required for them);
* a parser whose input starts with header lines (CSV) sets ``header_lines = N``: when the
  runner resumes a file after them, it feeds those first lines again before the rest;
* a stateful parser (one that buffers records, e.g. auditd events or sudo continuation lines)
  sets ``stateful = True`` and yields ``Resume(offset)`` whenever every record before
  ``offset`` has been fully emitted, and emits what it still buffers when the input ends.
  Restarting at a ``Resume`` offset then neither loses nor duplicates events;
* a stateful parser of a source that rewrites the end of its file when it appends (sudo's
  JSON log file ends with ``}``, which each append overwrites) sets ``tail_rewritten = True``:
  at the end of the input the runner keeps its last ``Resume`` rather than the end of the file;
* a parser whose checks span records (journald sequence numbers) may define
  ``prime(records, ctx)``: when the runner resumes a file, it first passes the last
  ``context_lines`` (default 1) complete lines before the resume offset, for state only;
* in follow mode the parser is not ended at each poll: it stays suspended at the end of the
  file until more arrives, and is ended (flushing what it holds) after a quiet spell;
* a parser declares what it reads besides the input, so `edgeaudit collect` refuses (exit 2)
  what it would otherwise ignore: ``options`` maps each ``--option KEY`` it reads to a short
  description (none declared: it takes no ``--option``), and ``uses`` names the context fields
  it reads among ``timezone``, ``year`` and ``hmac_key`` (``--timezone``, ``--year``,
  ``--card-key-env``; none declared: it reads none of them);
* an event or quarantined record from which the parser removed something secret (a card
  number, a PIN) says so with ``redacted=True``: the collect summary counts those rows. A
  parser whose input may hold such secrets also defines ``redact(raw, ctx) -> bytes``: the
  runner passes it the raw bytes of damaged input it quarantines itself (a binary region, an
  over-long line, a damaged gzip tail), so nothing the parser would remove is stored in clear.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal, Protocol
from zoneinfo import ZoneInfo

from edgeaudit.collect.inventory import Inventory
from edgeaudit.collect.model import Actor, Event, KeyRef, Quarantined, Target


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One framed input record: a line without its newline, or a whole (decompressed) file."""

    data: bytes
    location: str  # "file:line" (lines) or "file" (whole files)
    offset: int  # byte offset just after this record in the input: where to resume


@dataclass(frozen=True, slots=True)
class Resume:
    """Every record before ``offset`` has been fully turned into events or quarantined."""

    offset: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """A well-formed record deliberately not turned into an event (e.g. a Teleport event type
    that is not about access): counted in the collect summary, never silently dropped."""

    location: str
    reason: str


Output = Event | Quarantined | Resume | Skipped

CONTEXT_FIELDS: Final = frozenset({"timezone", "year", "hmac_key"})
"""The :class:`ParseContext` fields a parser declares in ``uses`` when it reads them."""


@dataclass(frozen=True)
class ParseContext:
    """What a parser may know besides the input."""

    source: str  # the source id, e.g. a host name or the input file's name
    inventory: Inventory = field(default_factory=Inventory.empty)
    timezone: ZoneInfo | None = None  # for sources that write local time without a zone
    year: int | None = None  # for RFC 3164 syslog, which has no year
    options: Mapping[str, str] = field(default_factory=dict)
    hmac_key: bytes | None = None  # for keyed hashes of card numbers and similar

    def actor(self, kind: str, identity: str | None, **extra: str | None) -> Actor:
        """An :class:`Actor` for ``identity`` as source ``kind`` names it (unix, ssh_key_id,
        teleport, vault, aws_arn, badge), resolved through the inventory when possible."""
        principal = self.inventory.principal_for(kind, identity) if identity else None
        if principal is None:
            return Actor(user=identity, **extra)  # type: ignore[arg-type]
        return Actor(
            user=identity,
            principal=principal.id,
            org=principal.org,
            tenant=principal.tenant,
            **extra,
        )

    def target(
        self, asset: str | None, account: str | None = None, resource: str | None = None
    ) -> Target:
        """A :class:`Target` on ``asset`` (host name or address), with its owner tenant."""
        found = self.inventory.asset(asset) if asset else None
        return Target(
            asset=found.hostname if found else asset,
            account=account,
            resource=resource,
            owner=found.owner if found else None,
        )

    def key(self, provider: str, identity: str, operation: str | None = None) -> KeyRef:
        """A :class:`KeyRef` for a provider's key identity (transit mount/name, ARN, alias)."""
        found = self.inventory.key_for(provider, identity)
        if found is None:
            return KeyRef(key=identity, provider=provider, operation=operation)
        return KeyRef(
            key=found.id, provider=provider, operation=operation, owner=found.tenant, resolved=True
        )

    def scope(
        self, target: Target | None = None, key: KeyRef | None = None, actor: Actor | None = None
    ) -> tuple[str, ...]:
        """Tenants that may see an event: the owner of the target or key, and the actor's own
        tenant. Shared infrastructure and operator-only events have an empty scope."""
        tenants = {
            t
            for t in (
                target.owner if target else None,
                key.owner if key else None,
                actor.tenant if actor else None,
            )
            if t and t != "shared"
        }
        return tuple(sorted(tenants))


class Parser(Protocol):
    """A source format. Instances are created per input and may keep state."""

    name: ClassVar[str]  # the KIND of `edgeaudit collect KIND`
    version: ClassVar[str]
    framing: ClassVar[Literal["lines", "file"]]
    stateful: ClassVar[bool]

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]: ...


def is_parser(obj: object) -> bool:
    return all(hasattr(obj, a) for a in ("name", "version", "framing", "stateful", "parse"))


def declared_options(cls: object) -> Mapping[str, str]:
    """The ``--option`` keys a parser reads, with what each does (none when undeclared)."""
    found = getattr(cls, "options", None)
    return found if isinstance(found, Mapping) else {}


def declared_uses(cls: object) -> frozenset[str]:
    """The context fields (of :data:`CONTEXT_FIELDS`) a parser reads (none when undeclared)."""
    return frozenset(getattr(cls, "uses", ())) & CONTEXT_FIELDS
