"""The store side of a mirror: a pod's log copied entry for entry into another store (SQLite
and PostgreSQL), byte-identical, verifiable with the pod's key, and all-or-nothing refusals."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from edgeaudit.canonical import canonical_json
from edgeaudit.events import prepare, prepare_canonical
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import Ed25519Signer, generate
from edgeaudit.note.verifier import Verifier
from edgeaudit.store import EvidenceLog, LogNotFoundError, MirroredLog, MirrorError, Store
from edgeaudit.verify.store import verify_log

POD = "pod-7.campus.example.net/log"
CHUNKS = (1, 15, 17, 300, 2, 256, 1, 40)


def _event(i: int, **extra: object) -> dict[str, object]:
    return {
        "time": f"2026-11-{20 + i // 400 % 8:02d}T08:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "kind": "auth.logon",
        "source": f"syslog:host-{i % 3}",
        "tenant": ("t-a", "t-b", None)[i % 3],
        "n": i,
        **extra,
    }


def _fill_pod(log: EvidenceLog) -> None:
    """Batches through the normal append path, some repeats skipped at the pod, equal bytes
    at two indices (different fingerprints), a float (the strict parse) and plain events."""
    for start in range(0, 600, 150):
        log.append([prepare(_event(i)) for i in range(start, start + 150)])
        log.append([prepare(_event(i)) for i in range(start + 100, start + 160)])  # 50 repeats
    same = _event(10_000, kind="serve.access")
    log.append([prepare(same, fingerprint="serve:1"), prepare(same, fingerprint="serve:2")])
    log.append([prepare(_event(i, ratio=i / 8, big=2**53 - 1)) for i in range(700, 720)])
    log.append([prepare({"time": "2026-11-25T00:00:00Z", "kind": "a.b"})])  # no source


@dataclass(frozen=True)
class Pod:
    log: EvidenceLog
    signer: Ed25519Signer

    def note(self, size: int) -> tuple[bytes, str]:
        """(root, signed note) of the pod's tree at ``size``."""
        with self.log.reader() as reader:
            root = reader.root(size)
        return root, self.signer.sign_checkpoint(Checkpoint(POD, size, root)).decode()

    @property
    def key(self) -> Verifier:
        return Verifier.parse(self.signer.verifier_key)


@pytest.fixture
def pod(tmp_path: Path) -> Iterator[Pod]:
    """A pod's SQLite store filled through the normal append path, with a signed checkpoint."""
    signer = generate(POD)
    with Store.open(f"sqlite:///{tmp_path}/pod.db", upgrade=True) as store:
        log = store.log(POD, create=True)
        _fill_pod(log)
        log.sign_checkpoint(signer)
        yield Pod(log, signer)


def _bodies(log: EvidenceLog | MirroredLog) -> list[bytes]:
    with log.reader() as reader:
        return [bytes(r[1]) for r in reader.iter_entries()]


def _snapshot(log: EvidenceLog | MirroredLog) -> tuple[object, ...]:
    with log.reader() as reader:
        size = reader.head()[0]
        return (
            reader.head(),
            [(int(r[0]), *map(bytes, r[1:])) for r in reader.iter_entries()],
            list(reader.tiles()),
            reader.source_days(size),
            [reader.root(n) for n in range(size + 1)],
        )


def _mirror_in_chunks(pod: EvidenceLog, mirror: MirroredLog) -> None:
    bodies = _bodies(pod)
    start = 0
    for n in [*CHUNKS, len(bodies)]:
        chunk = bodies[start : start + n]
        if not chunk:
            break
        assert mirror.extend(start, chunk) == start + len(chunk)
        start += len(chunk)
    assert start == len(bodies)


def test_mirrored_log_is_byte_identical_and_verifies(pod: Pod, store: Store) -> None:
    bodies = _bodies(pod.log)
    assert len(bodies) > sum(CHUNKS)
    assert len(set(bodies)) == len(bodies) - 1  # equal bytes at two indices of the pod
    mirror = store.mirror(POD, create=True)
    assert (mirror.size(), mirror.held()) == (0, None)
    _mirror_in_chunks(pod.log, mirror)
    assert _snapshot(mirror) == _snapshot(pod.log)
    assert mirror.log.head() == pod.log.head()

    note = pod.log.latest_checkpoint()
    assert note is not None
    mirror.hold_checkpoint(note.tree_size, note.root_hash, note.note)
    mirror.hold_checkpoint(note.tree_size, note.root_hash, note.note)  # idempotent
    held = mirror.held()
    assert held is not None
    assert (held.tree_size, held.root_hash, held.note) == (
        note.tree_size,
        note.root_hash,
        note.note,
    )
    assert len(mirror.checkpoints()) == 1
    assert mirror.root(note.tree_size) == note.root_hash
    report = verify_log(store.log(POD), [pod.key])
    assert report.ok, report.problems
    assert (report.tree_size, report.checkpoints_checked) == (len(bodies), 1)
    # the pod's note is what verifies: another key of the same name does not
    other = Verifier.parse(generate(POD).verifier_key)
    assert not verify_log(store.log(POD), [other]).ok


def test_a_large_batch_matches_the_pod(tmp_path: Path, store: Store) -> None:
    """One call of 1 300 entries: on PostgreSQL its new tiles go by COPY."""
    with Store.open(f"sqlite:///{tmp_path}/big.db", upgrade=True) as pod_store:
        pod = pod_store.log(POD, create=True)
        pod.append([prepare(_event(i)) for i in range(1_305)])
        mirror = store.mirror(POD, create=True)
        bodies = _bodies(pod)
        assert mirror.extend(0, bodies[:5]) == 5
        assert mirror.extend(5, bodies[5:]) == 1_305
        assert _snapshot(mirror) == _snapshot(pod)


def test_earlier_pod_checkpoints_are_held_in_any_order(pod: Pod, store: Store) -> None:
    bodies = _bodies(pod.log)
    mirror = store.mirror(POD, create=True)
    mirror.extend(0, bodies[:100])
    root_100, note_100 = pod.note(100)
    root_101, note_101 = pod.note(101)
    with pytest.raises(MirrorError, match="holds only 100 entries"):
        mirror.hold_checkpoint(101, root_101, note_101)
    mirror.extend(100, bodies[100:])
    latest = pod.log.latest_checkpoint()
    assert latest is not None
    mirror.hold_checkpoint(latest.tree_size, latest.root_hash, latest.note)
    mirror.hold_checkpoint(100, root_100, note_100)
    assert [c.tree_size for c in mirror.checkpoints()] == [100, latest.tree_size]
    held = mirror.held()
    assert held is not None
    assert held.tree_size == latest.tree_size
    assert verify_log(store.log(POD), [pod.key]).ok


def test_bad_batches_are_refused_and_write_nothing(pod: Pod, store: Store) -> None:
    bodies = _bodies(pod.log)
    mirror = store.mirror(POD, create=True)
    mirror.extend(0, bodies[:20])
    before = _snapshot(mirror)
    good = bodies[20:30]
    canonical = canonical_json(_event(5))
    duplicate_name = b'{"kind":"a.b","kind":"a.b","time":"2026-11-20T08:00:00Z"}'
    cases: list[tuple[int, list[object], str]] = [
        (19, good, r"from index 19, but the mirror holds 20 entries; resume from index 20"),
        (21, good, r"resume from index 20"),
        (20, [*good, canonical.replace(b'","', b'", "')], r"entry 30 .*not the canonical"),
        (20, [*good, b"\xff\xfe garbage"], r"entry 30 .*not valid JSON"),
        (20, [b"{}", *good], r"entry 20 .*field 'time'"),
        (20, [*good[:3], canonical.replace(b"Z", b"+00:00", 1)], r"entry 23 .*canonical"),
        (20, [*good, duplicate_name], r"entry 30 .*more than once"),
        (20, [*good, "text"], r"entry 30 .*expected bytes"),
    ]
    for start, batch, message in cases:
        with pytest.raises(MirrorError, match=message) as info:
            mirror.extend(start, batch)  # type: ignore[arg-type]
        assert POD in str(info.value)
        assert mirror.size() == 20
    assert _snapshot(mirror) == before
    assert mirror.extend(20, []) == 20
    assert mirror.extend(20, good) == 30


def test_hold_checkpoint_refuses_what_the_stored_tree_does_not_say(pod: Pod, store: Store) -> None:
    bodies = _bodies(pod.log)
    mirror = store.mirror(POD, create=True)
    note = pod.log.latest_checkpoint()
    assert note is not None
    mirror.extend(0, bodies[:-1])
    with pytest.raises(MirrorError, match=f"holds only {len(bodies) - 1} entries"):
        mirror.hold_checkpoint(note.tree_size, note.root_hash, note.note)
    # a different last entry than the pod's: the pod's root is not the mirror's
    mirror.extend(len(bodies) - 1, [prepare(_event(99_999)).body])
    with pytest.raises(MirrorError, match="is not the root of the entries held"):
        mirror.hold_checkpoint(note.tree_size, note.root_hash, note.note)
    with pytest.raises(MirrorError, match="the note states"):
        mirror.hold_checkpoint(note.tree_size, mirror.root(note.tree_size), note.note)
    with pytest.raises(MirrorError, match="not a checkpoint note"):
        mirror.hold_checkpoint(note.tree_size, note.root_hash, "garbage")
    assert mirror.held() is None
    assert mirror.checkpoints() == []


def test_a_different_note_of_a_held_size_is_refused(pod: Pod, store: Store) -> None:
    mirror = store.mirror(POD, create=True)
    mirror.extend(0, _bodies(pod.log))
    note = pod.log.latest_checkpoint()
    assert note is not None
    mirror.hold_checkpoint(note.tree_size, note.root_hash, note.note)
    other = generate(POD).sign_checkpoint(Checkpoint(POD, note.tree_size, note.root_hash))
    with pytest.raises(MirrorError, match="a different note of that size is held"):
        mirror.hold_checkpoint(note.tree_size, note.root_hash, other.decode())
    assert [c.note for c in mirror.checkpoints()] == [note.note]


@pytest.mark.parametrize("table", ["entries", "checkpoints"])
def test_mirrored_rows_are_append_only(pod: Pod, store: Store, table: str) -> None:
    mirror = store.mirror(POD, create=True)
    mirror.extend(0, _bodies(pod.log)[:50])
    mirror.hold_checkpoint(50, *pod.note(50))
    for statement in (f"UPDATE {table} SET log_id = log_id", f"DELETE FROM {table}"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    assert mirror.size() == 50
    assert len(mirror.checkpoints()) == 1


def test_prepare_canonical_is_prepare_of_the_bytes() -> None:
    events = (_event(3), _event(4, ratio=0.25), {"time": "2026-11-25T00:00:00Z", "kind": "x"})
    for event in events:
        entry = prepare(event)
        assert prepare_canonical(entry.body) == entry


def test_mirror_of_an_unknown_origin_needs_create(store: Store) -> None:
    with pytest.raises(LogNotFoundError):
        store.mirror("nobody.example.net/log")
    assert store.mirror("nobody.example.net/log", create=True).size() == 0
