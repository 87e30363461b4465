"""``edgeaudit mirror list``: per pod, what an operator checks (:mod:`edgeaudit.mirror.view`).

Exit 1 when a pod is stopped by a fork proof, else 0. Text: one block per pod; ``--json``:
``{"mirrors": [...]}`` with the fields of :meth:`edgeaudit.mirror.view.PodView.to_dict`.
"""

from __future__ import annotations

import argparse
import json

from edgeaudit.mirror.view import PodView


def cmd_list(args: argparse.Namespace, config: object) -> int:
    from edgeaudit.mirror.state import MirrorFiles
    from edgeaudit.mirror.view import pod_view
    from edgeaudit.workspace.config import WorkspaceConfig
    from edgeaudit.workspace.mirrors import load_mirrors
    from edgeaudit.workspace.state import open_store

    assert isinstance(config, WorkspaceConfig)
    sources = load_mirrors(config)
    store, _ = open_store(config)
    with store:
        views = [pod_view(store, MirrorFiles(config.root, m.origin), m) for m in sources]
    if args.json:
        print(json.dumps({"mirrors": [v.to_dict() for v in views]}))
    elif not views:
        print("no mirrors (add one with `edgeaudit mirror add URL --key VKEY`)")
    else:
        print("\n\n".join("\n".join(lines(v)) for v in views))
    return 1 if any(v.stopped for v in views) else 0


def _key_id(vkey: str) -> str:
    """The hex key id of a verifier key ``name+keyid+base64`` (a name has no ``+``)."""
    parts = vkey.split("+", 2)
    return parts[1] if len(parts) == 3 else vkey


def lines(v: PodView) -> list[str]:
    """The text block of one pod."""
    out = [f"{v.origin}  {v.url}"]
    k = v.key
    if k.current is None:
        out.append(f"  key NONE TRUSTED: {k.problem}")
    else:
        out.append(f"  key {k.current}")
    if k.transitions:
        steps = ", ".join(f"{_key_id(t.next_key)} from size {t.tree_size:,}" for t in k.transitions)
        out.append(f"    rotated: [[mirror]] key {_key_id(k.mirror_key)}, then {steps}")
    held = f"  held {v.held_size:,}" if v.held_size else "  held nothing"
    if v.held_at:
        held += f" (since {v.held_at.split('.')[0].removesuffix('Z')}Z)"  # to the second
    if v.stored_size != v.held_size:
        held += f", {v.stored_size:,} entries stored"
    out.append(held)
    ok = v.last_verified
    size = "" if ok is None or ok.tree_size is None else f", checkpoint of size {ok.tree_size:,}"
    out.append(f"  verified {'never' if ok is None else ok.at + size}")
    out.append(f"  last sync {_attempt(v)}")
    w = v.witnessed
    if w.problem:
        out.append(f"  witnessed: {w.problem}")
    elif v.held_size:
        names = f": {', '.join(w.names)}" if w.names else ""
        out.append(f"  witnessed {w.count} cosignature line(s) for size {w.tree_size:,}{names}")
    if v.stopped:
        out.append(f"  FORK, stopped: {', '.join(v.fork_proofs)}")
        out.append(f"    settle: edgeaudit mirror resolve {v.origin} --keep-held --reason TEXT")
    return out


def _attempt(v: PodView) -> str:
    a = v.last_attempt
    if a is None:
        return "never"
    text = f"{a.at or '?'} {a.status}"
    if a.error is not None:
        if a.failing_since and a.failing_since != a.at:
            text += f" (failing since {a.failing_since})"
        text += f": {a.error}"
    return text
