"""Copy a pack as an ``edgeaudit-pack/1`` pack (one inclusion proof per entry), for comparing
verifiers and sizes of the two formats on the same entries.

    python bench/bench_pack_v1.py --ws DIR/ws --pack DIR/site-... --out DIR/site-v1

The per-entry proofs come from the workspace's store (the tree at the pack's size), and the
manifest is re-signed with the workspace's manifest key, as ``pack build`` of version 1 did.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
from pathlib import Path

from edgeaudit.pack.manifest import list_files, manifest_bytes, sign_manifest
from edgeaudit.pack.tree import LevelTree
from edgeaudit.store import Store
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.manifest_key import manifest_signing_key


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ws", required=True)
    ap.add_argument("--pack", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    src, out = Path(args.pack), Path(args.out)
    shutil.copytree(src, out)
    note = (out / pf.CHECKPOINT).read_text().split("\n")
    size, root = int(note[1]), base64.b64decode(note[2])
    config = cfg.load(Path(args.ws))
    tree = LevelTree()
    with Store.open(config.db_url) as store, store.log(config.origin).reader() as reader:
        for index, _body, leaf, _chain in reader.iter_entries(0):
            if index >= size:
                break
            tree.add(bytes(leaf))
    assert tree.freeze() == root, "the store's tree differs from the pack's checkpoint"
    with (out / pf.EVIDENCE).open("rb") as ev, (out / pf.PROOFS).open("wb") as pr:
        for line in ev:
            index = json.loads(line)["index"]
            pr.write(pf.proof_line(index, tree.inclusion_proof(index)))
    manifest = json.loads((out / pf.MANIFEST).read_text())
    header = {
        k: v for k, v in manifest.items() if k not in ("files", "evidence_digest", "manifest_key")
    }
    header["format"] = pf.FORMAT_V1
    names = [f["path"] for f in manifest["files"]]
    with manifest_signing_key(config) as (private, public):
        payload = manifest_bytes(header, list_files(out, names), public)
        (out / pf.MANIFEST).write_bytes(payload)
        (out / pf.MANIFEST_JWS).write_bytes(sign_manifest(payload, private, public))
    print(f"{out}: {pf.FORMAT_V1}, {(out / pf.PROOFS).stat().st_size / 1e6:.1f} MB of proofs")


if __name__ == "__main__":
    main()
