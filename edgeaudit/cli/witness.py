"""``edgeaudit witness``: run a C2SP tlog-witness (init, key, serve, forks)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgeaudit.errors import InputError


def add_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("action", choices=["init", "key", "serve", "forks"])
    c.add_argument(
        "--config", metavar="FILE", default="witness.toml", help="witness configuration (TOML)"
    )
    c.add_argument("--name", help="init: the witness's key name, e.g. witness.example/w1")
    c.add_argument(
        "--log",
        action="append",
        default=[],
        metavar="VKEY",
        help="init: a log to witness, by its verifier key (origin = the key's name; repeatable)",
    )
    c.add_argument("--host", default="127.0.0.1", help="serve: address (default 127.0.0.1)")
    c.add_argument("--port", type=int, default=7380, help="serve: port (default 7380; 0: any)")
    c.add_argument("--pause-after-store", metavar="FILE", help=argparse.SUPPRESS)


def cmd_witness(args: argparse.Namespace) -> int:
    path = Path(args.config)
    if args.action == "init":
        return _init(args, path)
    from edgeaudit.witness.config import load_config

    config = load_config(path)
    if args.action == "key":
        vkey = config.cosigner().verifier_key
        print(json.dumps({"verifier_key": vkey}) if args.json else vkey)
        return 0
    if args.action == "forks":
        return _forks(args, config)
    return _serve(args, config)


def _init(args: argparse.Namespace, path: Path) -> int:
    import tomli_w

    from edgeaudit.note.signer import Ed25519Cosigner
    from edgeaudit.note.verifier import Verifier
    from edgeaudit.witness.config import generate_key
    from edgeaudit.witness.state import create_private_file

    if not args.name:
        raise InputError("witness init needs --name (the witness's key name)")
    if path.exists():
        raise InputError(f"{path}: already exists")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path.parent}: cannot create the directory: {exc}") from None
    logs = [{"origin": Verifier.parse(v).name, "keys": [v]} for v in args.log]
    key_path = path.with_suffix(".key")
    cosigner = Ed25519Cosigner(args.name, generate_key(key_path))
    config = {
        "name": args.name,
        "key": key_path.name,
        "state": path.with_suffix(".db").name,
        "log": logs,
    }
    create_private_file(path, tomli_w.dumps(config).encode("utf-8"))
    vkey = cosigner.verifier_key
    print(json.dumps({"verifier_key": vkey, "config": str(path)}) if args.json else vkey)
    return 0


def _forks(args: argparse.Namespace, config: object) -> int:
    """The validly signed checkpoints the witness refused as inconsistent; exit 1 if any."""
    from edgeaudit.witness.config import WitnessConfig
    from edgeaudit.witness.state import StateDB

    assert isinstance(config, WitnessConfig)
    if not config.state_path.exists():
        raise InputError(f"{config.state_path}: no witness state yet (never served)")
    db = StateDB(config.state_path)
    try:
        forks = db.forks()
    finally:
        db.close()
    if args.json:
        print(
            json.dumps(
                {
                    "forks": [
                        {
                            "origin": o,
                            "note": n.decode(),
                            "cosigned": c.decode(),
                            "reason": r,
                            "seen": s,
                        }
                        for o, n, c, r, s in forks
                    ]
                }
            )
        )
    else:
        for origin, note, cosigned, reason, _ in forks:
            print(f"{origin}: {reason}\n--- refused:\n{note.decode()}", end="")
            print(f"--- cosigned:\n{cosigned.decode()}")
        if not forks:
            print("no inconsistent checkpoints seen")
    return 1 if forks else 0


def _serve(args: argparse.Namespace, config: object) -> int:
    import signal
    import sys
    import threading
    import time

    from edgeaudit.witness.config import WitnessConfig
    from edgeaudit.witness.server import make_server
    from edgeaudit.witness.state import Committer, StateDB
    from edgeaudit.witness.witness import Witness

    assert isinstance(config, WitnessConfig)
    after_store = None
    if args.pause_after_store:  # tests: stop between storing and answering, to be killed
        marker = Path(args.pause_after_store)

        def after_store() -> None:
            marker.touch()
            while True:
                time.sleep(3600)

    cosigner = config.cosigner()
    db = StateDB(config.state_path)
    committer = Committer(db, after_store)
    server = make_server(Witness(cosigner, config.logs, committer), args.host, args.port)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(
        f"witness {config.name} ({len(config.logs)} logs) on http://{host}:{port}\n"
        f"verifier key {cosigner.verifier_key}",
        flush=True,
    )
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        committer.close()
        db.close()
        print("witness stopped", file=sys.stderr)
    return 0
