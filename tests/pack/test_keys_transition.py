"""A transition checkpoint inside a pack: signed by the log key and a new key, it is followed;
forged by an insider who holds the manifest key but not the log key (the transition signed by
the new key only), the pack fails."""

from __future__ import annotations

from pathlib import Path

from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import generate, sign_transition
from edgeaudit.note.transition import transition_lines
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.keys import log_signer
from tests.pack.conftest import Site
from tests.pack.helpers import copy_pack
from tests.pack.tampering import failed, passed, resign


def _tree(pack: Path) -> Checkpoint:
    return Checkpoint.parse((pack / pf.CHECKPOINT).read_bytes().split(b"\n\n")[0] + b"\n")


def test_a_transition_as_the_pack_checkpoint_is_followed(
    site: Site, site_pack: Path, tmp_path: Path
) -> None:
    pack = copy_pack(site_pack, tmp_path / "pack")
    config = cfg.load(site.ws)
    new = generate(config.origin)
    with log_signer(config) as old:
        (pack / pf.CHECKPOINT).write_bytes(sign_transition(old, new, _tree(pack)))
    resign(site, pack)
    passed(site, pack)


def test_a_transition_signed_by_the_new_key_only_fails(
    site: Site, site_pack: Path, tmp_path: Path
) -> None:
    pack = copy_pack(site_pack, tmp_path / "pack")
    config = cfg.load(site.ws)
    attacker = generate(config.origin)
    tree = _tree(pack)
    lines = transition_lines(config.verifier_key, attacker.verifier_key)
    forged = attacker.sign_note(Checkpoint(tree.origin, tree.size, tree.root, lines).body())
    (pack / pf.CHECKPOINT).write_bytes(forged)
    resign(site, pack)  # the insider re-signs the manifest with the real manifest key
    out = failed(site, pack)
    assert f"{pf.CHECKPOINT}: no signature from a trusted key" in out
