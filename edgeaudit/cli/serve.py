"""``edgeaudit token issue|revoke|list`` and ``edgeaudit serve``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edgeaudit.errors import ConfigError, InputError
from edgeaudit.workspace import config as cfg


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print(text)


def _policies(args: argparse.Namespace, config: cfg.WorkspaceConfig) -> Path:
    path = Path(args.policies) if args.policies else config.root / "policies"
    if not path.is_dir():
        raise InputError(f"{path}: no policy directory (give --policies DIR)")
    return path


def cmd_token(args: argparse.Namespace) -> int:
    from edgeaudit.serve.revocation import Ledger

    config = cfg.load(cfg.find_root(args.workspace))
    ledger = Ledger(config.root)
    if args.action == "issue":
        return _issue(args, config, ledger)
    if args.action == "list":
        revoked = {r["id"] for r in ledger.issued() if ledger.is_revoked(r["id"])}
        # records written before times were RFC 3339 hold epoch seconds: shown as RFC 3339
        rows = [{**_times(r), "revoked": r["id"] in revoked} for r in ledger.issued()]
        text = "\n".join(
            f"{r['id']}  {r['role']:<8} {r.get('tenant') or '-':<12} exp {r['expires']}"
            + ("  revoked" if r["revoked"] else "")
            for r in rows
        )
        _emit(args, rows, text or "no tokens issued")
        return 0
    if not args.id:
        raise InputError("usage: edgeaudit token revoke ID")
    record = ledger.revoke(args.id, args.reason)
    _append_event(config, "token.revoked", record)
    _emit(args, record, f"revoked token {args.id}")
    return 0


def _issue(args: argparse.Namespace, config: cfg.WorkspaceConfig, ledger: Any) -> int:
    from edgeaudit.collect.inventory import load_inventory
    from edgeaudit.serve.setup import issuer
    from edgeaudit.serve.tokens import check_role, issue, parse_ttl
    from edgeaudit.workspace.token_key import load_token_key, token_kid

    if not args.role:
        raise InputError("token issue needs --role officer|security|auditor|tenant")
    ttl = parse_ttl(args.ttl)
    inventory = load_inventory(_policies(args, config) / "inventory.yaml")
    check_role(args.role, args.tenant, inventory.tenant_ids)
    key = load_token_key(config)
    token = issue(
        key,
        token_kid(key.public_key()),
        issuer(config),
        role=args.role,
        tenant=args.tenant,
        ttl=ttl,
        subject=args.subject,
    )
    record = {k: v for k, v in token.to_dict().items() if k != "token"}
    ledger.record_issued(record)
    _append_event(config, "token.issued", record)
    _emit(args, token.to_dict(), token.token)
    return 0


def _append_event(config: cfg.WorkspaceConfig, kind: str, record: dict[str, Any]) -> None:
    """Token issue and revocation are audit events too."""
    from datetime import UTC, datetime

    from edgeaudit.events import prepare
    from edgeaudit.store import Store

    event: dict[str, Any] = {
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "kind": kind,
        "token": record["id"],
        "role": record.get("role"),
        "subject": record.get("subject"),
    }
    if record.get("tenant"):
        event["tenant"] = record["tenant"]
    if record.get("expires"):
        event["expires"] = record["expires"]
    with Store.open(config.db_url) as store:
        store.log(config.origin).append([prepare(event, fingerprint=f"{kind}:{record['id']}")])


def _times(record: dict[str, Any]) -> dict[str, Any]:
    from datetime import UTC, datetime

    out = dict(record)
    for k in ("issued_at", "expires"):
        if isinstance(out.get(k), int) and not isinstance(out.get(k), bool):
            out[k] = datetime.fromtimestamp(out[k], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from edgeaudit.serve.app import asgi
    from edgeaudit.serve.service import Settings
    from edgeaudit.serve.setup import make_service

    config = cfg.load(cfg.find_root(args.workspace))
    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port}: expected 1..65535")
    settings = Settings(
        host=args.host,
        port=args.port,
        policies=_policies(args, config),
        max_body=args.max_body,
        rate=args.rate,
        burst=args.burst,
        secure_cookies=args.secure_cookies,
        pdf=not args.no_pdf,
        with_scheduler=args.with_scheduler,
        alert_webhook=args.alert_webhook,
        alert_command=args.alert_command,
        alert_interval=args.alert_interval,
        verify_every=args.verify_every,
        cache_seconds=args.cache_seconds,
        max_pending=args.max_pending,
        public_url=args.public_url,
        trusted_proxies=tuple(args.trusted_proxy),
        session_idle=args.session_idle,
        session_max=args.session_max,
        access_log=not args.no_access_log,
        export_ttl=float(_ttl("--export-ttl", args.export_ttl)),
        export_quota=args.export_quota,
        workers=args.workers,
    )
    _check(settings)
    _port_free(args.host, args.port)
    if args.workers > 1:
        return _serve_workers(args, config, settings)
    service = make_service(config, settings)
    # the dashboard's default period is assessed in the background right away
    from edgeaudit.pack.period import Period
    from edgeaudit.serve.pages import heatmap, last_quarter

    default = Period.quarter(last_quarter())
    service.warm_up(default, also=lambda: heatmap(service, default))
    scheduler = None
    if args.with_scheduler:
        scheduler = _start_scheduler(args, config)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"edgeaudit: serving on http://{host}:{args.port}/ as {settings.base_url}/",
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.run(
            asgi(service),
            host=args.host,
            port=args.port,
            log_level="debug" if args.verbose else "warning",
            access_log=False,  # the service writes its own (JSON, no query strings)
            server_header=False,
            proxy_headers=False,  # X-Forwarded-For: only from --trusted-proxy, by the service
        )
    finally:
        service.close()
        if scheduler is not None:
            scheduler.terminate()
    return 0


def _serve_workers(args: argparse.Namespace, config: cfg.WorkspaceConfig, settings: Any) -> int:
    """``--workers N``: uvicorn runs N processes on one socket, each with its own service."""
    import os

    import uvicorn

    from edgeaudit.serve.setup import make_service
    from edgeaudit.serve.worker import ENV, encode

    make_service(config, settings).close()  # a broken workspace fails here, once (exit 2)
    os.environ[ENV] = encode(config.root, settings)
    scheduler = _start_scheduler(args, config) if args.with_scheduler else None
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"edgeaudit: serving on http://{host}:{args.port}/ as {settings.base_url}/"
        f" with {args.workers} workers",
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.run(
            "edgeaudit.serve.worker:app",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level="debug" if args.verbose else "warning",
            access_log=False,
            server_header=False,
            proxy_headers=False,
        )
    finally:
        if scheduler is not None:
            scheduler.terminate()
    return 0


def _ttl(option: str, text: str) -> int:
    from edgeaudit.serve.tokens import parse_ttl

    try:
        return parse_ttl(text)
    except InputError as exc:
        raise InputError(str(exc).replace("--ttl", option)) from None


def _check(settings: Any) -> None:
    """Bad --public-url, --trusted-proxy or session times: exit 2 before listening."""
    from edgeaudit.serve.edge import PublicUrl, parse_proxies

    if settings.public_url is None and settings.host in ("0.0.0.0", "::", ""):  # noqa: S104
        raise InputError(
            f"--host {settings.host or '(all)'} listens on every address: give --public-url, "
            "the address clients use (requests for any other Host are refused)"
        )
    public = PublicUrl.parse(settings.base_url)
    if settings.secure_cookies and public.scheme != "https":
        raise InputError("--secure-cookies needs an https --public-url (the cookies are Secure)")
    parse_proxies(settings.trusted_proxies)
    if not 0 < settings.session_idle <= settings.session_max:
        raise InputError("--session-idle must be more than 0 and at most --session-max")
    if settings.export_quota < 1:
        raise InputError("--export-quota must be at least 1")
    if not 1 <= settings.workers <= 64:
        raise InputError("--workers must be 1..64")


def _port_free(host: str, port: int) -> None:
    """A port in use is a usage error (exit 2) with a clear message, not a traceback later."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _start_scheduler(args: argparse.Namespace, config: cfg.WorkspaceConfig) -> Any:
    """Run ``edgeaudit probe schedule`` beside the server, as its own process."""
    import subprocess
    import sys

    if not (config.root / "policies" / "probes.yaml").is_file():
        raise ConfigError(f"--with-scheduler: {config.root}/policies/probes.yaml is missing")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgeaudit.cli.main",
            "--workspace",
            str(config.root),
            "probe",
            "schedule",
        ]
    )
