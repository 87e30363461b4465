"""A fork proof kept without its ``mirror.fork`` entry (the mirror stopped between writing the
file and appending the entry) gets its entry on the next pass, once; the origin stays stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeaudit.mirror.state import MirrorFiles
from edgeaudit.note.signer import generate
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.mirrors import append_mirror, make_source
from tests.pack.helpers import run

ORIGIN = "campus.example/pod-interrupted"


def _fork_entries(ws: Path) -> list[dict[str, object]]:
    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        with log.reader() as reader:
            size, _ = reader.head()
            return [
                json.loads(body)
                for _i, body, _leaf in reader.select(["mirror.fork"], None, None, size)
            ]


def test_a_proof_without_its_entry_is_recorded_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)
    ws = tmp_path / "central"
    assert run("--workspace", str(ws), "init", "--site", "central")[0] == 0
    vkey = generate(ORIGIN).verifier_key
    append_mirror(cfg.load(ws), make_source("http://127.0.0.1:9", vkey, None, "test"))
    proof = MirrorFiles(ws, ORIGIN).keep_fork(7, "edgeaudit mirror: fork proof\nboth notes\n")
    assert _fork_entries(ws) == []

    for _ in range(2):
        code, out, _ = run("--workspace", str(ws), "--json", "mirror", "sync")
        assert code == 1, out
        assert '"stopped"' in out
    [entry] = _fork_entries(ws)
    assert entry["origin"] == ORIGIN
    assert entry["proof_file"] == str(proof.relative_to(ws))
    assert "both notes" in str(entry["proof"])
    code, out, _ = run("--workspace", str(ws), "verify")
    assert code == 0, out
