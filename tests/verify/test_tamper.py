"""Every tamper case, built by editing the database directly, on SQLite and PostgreSQL.

Each test builds a log of 40 entries in three appends with checkpoints signed at 10, 25 and 40,
then plays an attacker with database access (but not the signing key) and checks that
``verify_log`` reports the contradiction with the right code, index and values.
"""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from edgeaudit.canonical import GENESIS_CHAIN, chain_hash, leaf_hash
from edgeaudit.errors import NoteError
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import generate
from edgeaudit.store import Store
from edgeaudit.verify.stream import stream_entries
from edgeaudit.verify.stream_checks import StoredTiles
from tests.verify import tamper as t

PARKED = 10**9  # a temporary index no real entry uses
K = 17  # the tampered entry: after the checkpoint of size 10, inside tile 0/1 (entries 16..31)


def test_intact_log_verifies(store: Store, signer) -> None:
    built = t.build_log(store, signer)
    report = t.verify(built.log, signer)
    assert report.ok, report.problems
    assert (report.tree_size, report.entries_checked, report.checkpoints_checked) == (40, 40, 3)
    assert report.root_hash == built.roots[40].hex() == t.mth(t.leaves_of(built.rows)).hex()
    trusted = t.verify(built.log, signer, trusted=built.notes[25])
    assert trusted.ok, trusted.problems
    assert trusted.trusted_checkpoint == 25


def test_edited_entry(store: Store, signer) -> None:
    built = t.build_log(store, signer)
    _, body, leaf, chain = built.rows[K]
    forged = body.replace(b'"alice"', b'"mallory"')
    assert forged != body
    with t.attacker(store) as conn:
        t.set_body(conn, built.log.log_id, K, forged)

    report = t.verify(built.log, signer)

    assert not report.ok
    assert t.located(report) == {("entry.modified", K), ("entry.chain_mismatch", K)}
    modified = t.only(report, "entry.modified")
    assert (modified.expected, modified.found) == (leaf.hex(), leaf_hash(forged).hex())
    broken = t.only(report, "entry.chain_mismatch")
    prev_chain = built.rows[K - 1][3]
    assert broken.expected == chain_hash(prev_chain, leaf_hash(forged)).hex()
    assert broken.found == chain.hex()
    # The stored level-0 tile still holds the original leaf hash (tiles above it may differ too).
    assert ("tiles.mismatch", 16) in t.located(report, "tiles.")
    assert t.codes(report) <= {
        "entry.modified",
        "entry.chain_mismatch",
        "tiles.mismatch",
        "tiles.root_mismatch",
        "checkpoint.root_mismatch",
    }
    # Checkpoints covering entry K no longer match; the one of size 10 still does.
    leaves = t.leaves_of(t.read_entries(store, built.log.log_id))
    mismatched = t.root_mismatches(report)
    assert set(mismatched) == {"checkpoint of size 25", "checkpoint of size 40"}
    for size in (25, 40):
        p = mismatched[f"checkpoint of size {size}"]
        assert (p.expected, p.found) == (built.roots[size].hex(), t.mth(leaves[:size]).hex())


@pytest.mark.parametrize("fix_tiles", [False, True], ids=["tiles-left", "tiles-rebuilt"])
def test_edited_entry_with_recomputed_hashes(store: Store, signer, fix_tiles: bool) -> None:
    """The attacker recomputes the leaf hash of the edited entry, every later chain hash and the
    head row (and, in the second variant, the tiles): only the signed checkpoints catch it."""
    built = t.build_log(store, signer)
    log_id = built.log.log_id
    forged = built.rows[K][1].replace(b'"alice"', b'"mallory"')
    with t.attacker(store) as conn:
        t.set_body(conn, log_id, K, forged)
        leaf = leaf_hash(forged)
        t.run(
            conn,
            "UPDATE entries SET leaf_hash = :leaf WHERE log_id = :log AND idx = :idx",
            {"leaf": leaf, "log": log_id, "idx": K},
        )
        prev = built.rows[K - 1][3]
        for idx, body, _, _ in built.rows[K:]:
            prev = chain_hash(prev, leaf_hash(forged if idx == K else body))
            t.run(
                conn,
                "UPDATE entries SET chain_hash = :c WHERE log_id = :log AND idx = :idx",
                {"c": prev, "log": log_id, "idx": idx},
            )
        t.set_head(conn, log_id, 40, prev)
        if fix_tiles:
            t.rehash(conn, log_id)  # leaf and chain values unchanged; tiles rebuilt

    report = t.verify(built.log, signer)

    assert not report.ok
    assert t.located(report) == set(), "the entries and chain are self-consistent"
    assert "log.chain_head_mismatch" not in t.codes(report)
    leaves = t.leaves_of(t.read_entries(store, log_id))
    mismatched = t.root_mismatches(report)
    assert set(mismatched) == {"checkpoint of size 25", "checkpoint of size 40"}
    for size in (25, 40):
        p = mismatched[f"checkpoint of size {size}"]
        assert (p.expected, p.found) == (built.roots[size].hex(), t.mth(leaves[:size]).hex())
    assert report.root_hash == t.mth(leaves).hex()
    if fix_tiles:
        assert t.codes(report) == {"checkpoint.root_mismatch"}
    else:  # the stale tiles are reported too, and nothing else
        assert ("tiles.mismatch", 16) in t.located(report, "tiles.")
        assert {c for c in t.codes(report) if not c.startswith("tiles.")} == {
            "checkpoint.root_mismatch"
        }


@pytest.mark.parametrize("idx", [0, K, 39], ids=["first", "middle", "last"])
def test_deleted_entry(store: Store, signer, idx: int) -> None:
    built = t.build_log(store, signer)
    with t.attacker(store) as conn:
        t.run(
            conn,
            "DELETE FROM entries WHERE log_id = :log AND idx = :idx",
            {"log": built.log.log_id, "idx": idx},
        )

    report = t.verify(built.log, signer)

    assert not report.ok
    assert report.entries_checked == 39
    size = t.only(report, "log.size_mismatch")
    assert (size.expected, size.found) == ("40 entries", "39 entries")
    beyond = t.only(report, "checkpoint.beyond_log")
    assert beyond.message.startswith("checkpoint of size 40:")
    if idx == 39:  # the last entry: indistinguishable from a tail truncated by one
        assert t.located(report) == set()
        assert {c for c in t.codes(report) if not c.startswith("tiles.")} == {
            "log.size_mismatch",
            "checkpoint.beyond_log",
        }
        return
    assert t.located(report) == {("entry.missing", idx), ("entry.chain_mismatch", idx + 1)}
    missing = t.only(report, "entry.missing")
    assert (missing.expected, missing.found) == (f"entry {idx}", f"entry {idx + 1}")
    # The next entry's chain hash does not follow from the one before the gap.
    broken = t.only(report, "entry.chain_mismatch")
    before = built.rows[idx - 1][3] if idx else GENESIS_CHAIN
    assert broken.expected == chain_hash(before, built.rows[idx + 1][2]).hex()
    assert broken.found == built.rows[idx + 1][3].hex()
    # Every signed root over the gap differs; those before it still match.
    assert set(t.root_mismatches(report)) == {
        f"checkpoint of size {n}" for n in (10, 25) if n > idx
    }


def test_inserted_entry(store: Store, signer) -> None:
    """A new row at index K, later rows shifted up by one; the new row's leaf and chain hash are
    plausible (computed from its bytes and from entry K-1)."""
    built = t.build_log(store, signer)
    log_id = built.log.log_id
    new = t.event(100, actor="mallory")
    new_chain = chain_hash(built.rows[K - 1][3], new.leaf_hash)
    with t.attacker(store) as conn:
        # Two steps, so that no intermediate row collides with the primary key (and no index
        # goes negative: the schema refuses that).
        t.run(
            conn,
            "UPDATE entries SET idx = idx + 1000000 WHERE log_id = :log AND idx >= :k",
            {"log": log_id, "k": K},
        )
        t.run(
            conn,
            "UPDATE entries SET idx = idx - 999999 WHERE log_id = :log AND idx >= 1000000",
            {"log": log_id},
        )
        t.insert_entry(conn, log_id, K, new, new_chain)
    stored = t.read_entries(store, log_id)
    assert len(stored) == 41
    assert stored[K][1] == new.body
    assert stored[K + 1][1] == built.rows[K][1]

    report = t.verify(built.log, signer)

    assert not report.ok
    # The inserted row itself chains correctly from K-1; the chain breaks right after it: the
    # stored chain hash of the entry now at K+1 was computed from entry K-1, not from K.
    assert t.located(report) == {("entry.chain_mismatch", K + 1)}
    broken = t.only(report, "entry.chain_mismatch")
    assert broken.expected == chain_hash(new_chain, built.rows[K][2]).hex()
    assert broken.found == built.rows[K][3].hex()
    assert "inserted" in broken.message
    size = t.only(report, "log.size_mismatch")
    assert (size.expected, size.found) == ("40 entries", "41 entries")
    assert set(t.root_mismatches(report)) == {"checkpoint of size 25", "checkpoint of size 40"}


A, B = 12, 30  # swapped entries: on either side of the checkpoint of size 25


def test_swapped_rows(store: Store, signer) -> None:
    """Whole rows (bytes, leaf and chain hash) exchange their indexes."""
    built = t.build_log(store, signer)
    log_id = built.log.log_id
    with t.attacker(store) as conn:
        t.move_entry(conn, log_id, A, PARKED)
        t.move_entry(conn, log_id, B, A)
        t.move_entry(conn, log_id, PARKED, B)

    report = t.verify(built.log, signer)

    assert not report.ok
    rows = built.rows
    # Each moved row breaks the chain where it now sits and where the next one follows it.
    assert t.located(report) == {("entry.chain_mismatch", i) for i in (A, A + 1, B, B + 1)}
    at_i = t.only(report, "entry.chain_mismatch", A)
    assert (at_i.expected, at_i.found) == (
        chain_hash(rows[A - 1][3], rows[B][2]).hex(),
        rows[B][3].hex(),
    )
    at_j = t.only(report, "entry.chain_mismatch", B)
    assert (at_j.expected, at_j.found) == (
        chain_hash(rows[B - 1][3], rows[A][2]).hex(),
        rows[A][3].hex(),
    )
    assert set(t.root_mismatches(report)) == {"checkpoint of size 25", "checkpoint of size 40"}


def test_swapped_bodies(store: Store, signer) -> None:
    """Only the entry bytes are exchanged; the hash columns stay where they were."""
    built = t.build_log(store, signer)
    log_id = built.log.log_id
    rows = built.rows
    with t.attacker(store) as conn:
        t.set_body(conn, log_id, A, rows[B][1])
        t.set_body(conn, log_id, B, rows[A][1])

    report = t.verify(built.log, signer)

    assert not report.ok
    assert {p.index for p in report.problems if p.code == "entry.modified"} == {A, B}
    at_i = t.only(report, "entry.modified", A)
    assert (at_i.expected, at_i.found) == (rows[A][2].hex(), rows[B][2].hex())
    at_j = t.only(report, "entry.modified", B)
    assert (at_j.expected, at_j.found) == (rows[B][2].hex(), rows[A][2].hex())
    assert {p.index for p in report.problems if p.code == "entry.chain_mismatch"} == {A, B}
    assert set(t.root_mismatches(report)) == {"checkpoint of size 25", "checkpoint of size 40"}


def test_truncated_tail(store: Store, signer) -> None:
    """The last 5 rows deleted; head row, tiles and checkpoints left as they were."""
    built = t.build_log(store, signer)
    with t.attacker(store) as conn:
        t.run(
            conn,
            "DELETE FROM entries WHERE log_id = :log AND idx >= 35",
            {"log": built.log.log_id},
        )

    report = t.verify(built.log, signer)

    assert not report.ok
    assert report.tree_size == 35
    size = t.only(report, "log.size_mismatch")
    assert (size.expected, size.found) == ("40 entries", "35 entries")
    beyond = t.only(report, "checkpoint.beyond_log")
    assert "checkpoint of size 40" in beyond.message
    assert (beyond.expected, beyond.found) == ("at least 40 entries", "35 entries")
    assert t.located(report) == set()


def _truncate_consistently(store: Store, log_id: int, keep: int) -> None:
    """Delete entries from ``keep`` on, fix tiles and head row, delete later checkpoints."""
    with t.attacker(store) as conn:
        t.run(
            conn,
            "DELETE FROM entries WHERE log_id = :log AND idx >= :n",
            {"log": log_id, "n": keep},
        )
        t.run(
            conn,
            "DELETE FROM checkpoints WHERE log_id = :log AND tree_size > :n",
            {"log": log_id, "n": keep},
        )
        t.rehash(conn, log_id)


def test_truncated_tail_with_head_and_checkpoints_fixed(store: Store, signer) -> None:
    built = t.build_log(store, signer)
    _truncate_consistently(store, built.log.log_id, 35)

    alone = t.verify(built.log, signer)
    assert alone.ok, "the store on its own is consistent again"
    assert (alone.tree_size, alone.checkpoints_checked) == (35, 2)

    report = t.verify(built.log, signer, trusted=built.notes[40])
    assert not report.ok
    assert t.codes(report) == {"trusted.not_extended"}
    p = t.only(report, "trusted.not_extended")
    assert "trusted checkpoint of size 40" in p.message
    assert (p.expected, p.found) == ("at least 40 entries", "35 entries")
    assert report.trusted_checkpoint == 40
    # A trusted checkpoint the truncated log still extends is fine.
    assert t.verify(built.log, signer, trusted=built.notes[25]).ok


def test_truncated_and_regrown_fork(store: Store, signer) -> None:
    """After a consistent truncation the attacker appends other entries through the normal API
    up to the old size and beyond: a split view that only a saved checkpoint exposes."""
    built = t.build_log(store, signer)
    _truncate_consistently(store, built.log.log_id, 35)
    built.log.append(t.event(i, actor="mallory") for i in range(35, 45))
    forked = t.leaves_of(t.read_entries(store, built.log.log_id))

    assert t.verify(built.log, signer).ok
    report = t.verify(built.log, signer, trusted=built.notes[40])
    assert t.codes(report) == {"trusted.not_extended"}
    p = t.only(report, "trusted.not_extended")
    assert (p.expected, p.found) == (built.roots[40].hex(), t.mth(forked[:40]).hex())


def test_full_rewrite(store: Store, signer, tmp_path) -> None:
    """Every row rebuilt consistently for other content: entries, tiles and head copied from a
    log the attacker built with edgeaudit on a second database; only checkpoints remain."""
    built = t.build_log(store, signer)
    log_id = built.log.log_id
    with Store.open(f"sqlite:///{tmp_path}/forge.db", upgrade=True) as forge:
        fake = t.build_log(forge, None, actor="mallory")
        size, head = fake.log.head()
        tiles = [r for r in t.read_table(forge, "tiles") if r[0] == fake.log.log_id]
        with forge.engine.connect() as conn:
            entries = [
                dict(r._mapping)
                for r in conn.execute(text("SELECT * FROM entries ORDER BY idx")).all()
            ]
    assert size == 40
    assert {e["body"] for e in entries}.isdisjoint(r[1] for r in built.rows)
    with t.attacker(store) as conn:
        t.run(conn, "DELETE FROM entries WHERE log_id = :log", {"log": log_id})
        t.run(conn, "DELETE FROM tiles WHERE log_id = :log", {"log": log_id})
        cols = list(entries[0])
        conn.execute(
            text(
                f"INSERT INTO entries ({', '.join(cols)}) VALUES "
                f"({', '.join(':' + c for c in cols)})"
            ),
            [{**e, "log_id": log_id} for e in entries],
        )
        conn.execute(
            text("INSERT INTO tiles (log_id, level, tidx, hashes) VALUES (:l, :v, :i, :h)"),
            [{"l": log_id, "v": r[1], "i": r[2], "h": r[3]} for r in tiles],
        )
        t.set_head(conn, log_id, size, head)

    report = t.verify(built.log, signer)

    assert not report.ok
    assert t.codes(report) == {"checkpoint.root_mismatch"}, report.problems
    forged = t.leaves_of(t.read_entries(store, log_id))
    assert forged == t.leaves_of(fake.rows)
    mismatched = t.root_mismatches(report)
    assert set(mismatched) == {f"checkpoint of size {n}" for n in t.SIGN_AT}
    for n in t.SIGN_AT:
        p = mismatched[f"checkpoint of size {n}"]
        assert (p.expected, p.found) == (built.roots[n].hex(), t.mth(forged[:n]).hex())


def _flip_signature(note: str) -> str:
    body, _, sig_line = note.rstrip("\n").rpartition("\n")
    dash, name, b64 = sig_line.split(" ")
    pos = 20  # inside the signature bytes (the key id is the first 4 bytes, ~6 characters)
    flipped = b64[:pos] + ("B" if b64[pos] == "A" else "A") + b64[pos + 1 :]
    return f"{body}\n{dash} {name} {flipped}\n"


def _flip_root(note: str) -> str:
    lines = note.split("\n")
    root = bytearray(base64.b64decode(lines[2]))
    root[0] ^= 1
    lines[2] = base64.b64encode(bytes(root)).decode()
    return "\n".join(lines)


@pytest.mark.parametrize("where", ["signature", "root"])
def test_forged_checkpoint_signature(store: Store, signer, where: str) -> None:
    """One byte changed in the base64 of a stored note: in its signature, or in its root."""
    built = t.build_log(store, signer)
    note = built.notes[25].decode()
    altered = _flip_signature(note) if where == "signature" else _flip_root(note)
    assert altered != note
    with t.attacker(store) as conn:
        t.set_note(conn, built.log.log_id, 25, altered)

    report = t.verify(built.log, signer)

    assert not report.ok
    assert t.codes(report) == {"checkpoint.signature"}
    p = t.only(report, "checkpoint.signature")
    assert p.message.startswith("checkpoint of size 25:")
    assert "does not verify" in p.message
    assert report.checkpoints_checked == 2


@pytest.mark.parametrize("name", [t.ORIGIN, "evil.example/other"], ids=["same-name", "other-name"])
def test_checkpoint_signed_by_another_key(store: Store, signer, name: str) -> None:
    built = t.build_log(store, signer)
    other = generate(name)
    assert other.verifier_key != signer.verifier_key
    replaced = other.sign_checkpoint(Checkpoint(t.ORIGIN, 25, built.roots[25]))
    with t.attacker(store) as conn:
        t.set_note(conn, built.log.log_id, 25, replaced)

    report = t.verify(built.log, signer)

    assert not report.ok
    assert t.codes(report) == {"checkpoint.signature"}
    p = t.only(report, "checkpoint.signature")
    assert p.message.startswith("checkpoint of size 25:")
    assert "no signature from a trusted key" in p.message
    # The same note verifies for whoever trusts the other key: the check is the key.
    assert not any(
        p.message.startswith("checkpoint of size 25") for p in t.verify(built.log, other).problems
    )


def test_edited_checkpoint_columns(store: Store, signer) -> None:
    """The note is intact but its row claims another root: the stored columns are not trusted."""
    built = t.build_log(store, signer)
    with t.attacker(store) as conn:
        t.run(
            conn,
            "UPDATE checkpoints SET root_hash = :r WHERE log_id = :log AND tree_size = 25",
            {"r": built.roots[40], "log": built.log.log_id},
        )

    report = t.verify(built.log, signer)

    assert t.codes(report) == {"checkpoint.row_mismatch"}
    p = t.only(report, "checkpoint.row_mismatch")
    assert p.expected == f"size 25 root {built.roots[25].hex()}"
    assert p.found == f"size 25 root {built.roots[40].hex()}"


def test_edited_head_row(store: Store, signer) -> None:
    built = t.build_log(store, signer)
    with t.attacker(store) as conn:
        t.set_head(conn, built.log.log_id, 40, built.rows[38][3])

    report = t.verify(built.log, signer)

    assert t.codes(report) == {"log.chain_head_mismatch"}
    p = t.only(report, "log.chain_head_mismatch")
    assert (p.expected, p.found) == (built.rows[38][3].hex(), built.rows[39][3].hex())


def test_rollback_to_older_copy(store: Store, signer, db_url: str) -> None:
    """The whole database replaced by a copy taken after the first checkpoint."""
    built = t.build_log(store, signer, sizes=(10,))
    with t.database_copy(store, db_url) as restore:
        log = built.log
        log.append(t.event(i) for i in range(10, 40))
        newer = log.sign_checkpoint(signer)
        assert newer.tree_size == 40
        assert t.verify(log, signer).checkpoints_checked == 2

        restore()

        assert log.size == 10
        alone = t.verify(log, signer)
        assert alone.ok, "the older copy is consistent on its own"
        assert (alone.tree_size, alone.checkpoints_checked) == (10, 1)
        report = t.verify(log, signer, trusted=newer.note.encode())
        assert t.codes(report) == {"trusted.not_extended"}
        p = t.only(report, "trusted.not_extended")
        assert (p.expected, p.found) == ("at least 40 entries", "10 entries")
        assert t.verify(log, signer, trusted=built.notes[10]).ok


def test_trusted_checkpoint_from_another_key_is_refused(store: Store, signer) -> None:
    built = t.build_log(store, signer, sizes=(10,))
    other = generate(t.ORIGIN).sign_checkpoint(Checkpoint(t.ORIGIN, 10, built.roots[10]))
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        t.verify(built.log, signer, trusted=other)


def test_corrupted_tile(store: Store, signer) -> None:
    """One byte of a level-0 tile changed (the leaf hash of entry 21 in tile 0/1)."""
    built = t.build_log(store, signer)
    log_id = built.log.log_id
    with store.engine.connect() as conn:
        blob = bytearray(
            conn.execute(
                text("SELECT hashes FROM tiles WHERE log_id = :l AND level = 0 AND tidx = 1"),
                {"l": log_id},
            ).scalar_one()
        )
    blob[5 * 32] ^= 0xFF
    with t.attacker(store) as conn:  # tiles are not append-only: no triggers needed
        t.run(
            conn,
            "UPDATE tiles SET hashes = :h WHERE log_id = :l AND level = 0 AND tidx = 1",
            {"h": bytes(blob), "l": log_id},
        )

    report = t.verify(built.log, signer)

    assert not report.ok
    assert t.codes(report) == {"tiles.mismatch"}
    p = t.only(report, "tiles.mismatch")
    assert p.index == 16
    assert "tile 0/1" in p.message
    assert "16..31" in p.message


@pytest.mark.parametrize("how", ["deleted", "shortened"])
def test_missing_or_short_tile(store: Store, signer, how: str) -> None:
    """The partial level-0 tile 0/2 (entries 32..39) deleted, or cut to 4 of its 8 hashes."""
    built = t.build_log(store, signer)
    where = "WHERE log_id = :l AND level = 0 AND tidx = 2"
    with t.attacker(store) as conn:
        if how == "deleted":
            t.run(conn, f"DELETE FROM tiles {where}", {"l": built.log.log_id})
        else:
            blob = conn.execute(text(f"SELECT hashes FROM tiles {where}"), {"l": built.log.log_id})
            short = bytes(blob.scalar_one())[: 4 * 32]
            t.run(
                conn, f"UPDATE tiles SET hashes = :h {where}", {"h": short, "l": built.log.log_id}
            )

    report = t.verify(built.log, signer)

    assert not report.ok
    p = t.only(report, "tiles.missing" if how == "deleted" else "tiles.mismatch")
    assert p.index == 32
    assert "checkpoint.root_mismatch" not in t.codes(report)


def test_entry_planted_at_negative_index_is_refused(store: Store, signer) -> None:
    built = t.build_log(store, signer)
    planted = t.event(100, actor="mallory")
    with pytest.raises(DBAPIError, match=r"(?i)check"), store.engine.begin() as conn:
        t.insert_entry(
            conn, built.log.log_id, -1, planted, chain_hash(b"\0" * 32, planted.leaf_hash)
        )
    assert sum(n for _, _, n in built.log.counts()) == 40


def test_rows_outside_the_sequence_are_reported() -> None:
    """Were a row stored out of sequence anyway (constraint dropped), verify names it."""
    planted = t.event(100, actor="mallory")
    good = t.event(0)
    chain0 = chain_hash(GENESIS_CHAIN, good.leaf_hash)
    rows = iter(
        [
            (-1, planted.body, planted.leaf_hash, chain_hash(GENESIS_CHAIN, planted.leaf_hash)),
            (0, good.body, good.leaf_hash, chain0),
        ]
    )
    problems: list = []
    result = stream_entries(rows, StoredTiles(iter(()), {}), [], problems)
    assert result.size == 1
    assert [(p.code, p.index) for p in problems if p.code.startswith("entry")] == [
        ("entry.unexpected", -1)
    ]
