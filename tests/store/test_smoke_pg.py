from edgeaudit.events import prepare
from edgeaudit.store import Store


def test_append_and_sign(store: Store, signer) -> None:
    log = store.log("audit.example.net/test-log", create=True)
    evs = [prepare({"time": "2026-01-01T00:00:00Z", "kind": "a.b", "n": i}) for i in range(100)]
    r = log.append(evs)
    assert (r.appended, r.tree_size) == (100, 100)
    r = log.append(evs + [prepare({"time": "2026-01-01T00:00:00Z", "kind": "a.b", "n": 100})])
    assert (r.appended, r.duplicates, r.tree_size) == (1, 100, 101)
    cp = log.sign_checkpoint(signer)
    assert cp.tree_size == 101
    with log.reader() as rd:
        assert len(rd.inclusion_proof(7, 101)) == 7
