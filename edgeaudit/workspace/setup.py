"""``edgeaudit init``: create a workspace (config, log key, store) in one step."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from edgeaudit.errors import ConfigError
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.keys import create_key

KEY_PATH = "keys/log.key"


def init_workspace(
    root: Path,
    *,
    site: str | None = None,
    origin: str | None = None,
    db_url: str | None = None,
    passphrase_env: str | None = None,
) -> cfg.WorkspaceConfig:
    """Create a workspace in ``root``; on failure leave no half-made workspace behind."""
    if (root / cfg.CONFIG_NAME).exists():
        raise ConfigError(f"{root} is already an edgeaudit workspace; nothing was changed")
    if (root / KEY_PATH).exists():
        raise ConfigError(f"{root / KEY_PATH} already exists; refusing to overwrite a key")
    site = cfg.site_slug(root.name if site is None else site)
    origin = cfg.check_origin(f"edgeaudit.local/{site}" if origin is None else origin)
    # The URL written to the config never carries a password; $EDGEAUDIT_DB_URL (which may)
    # is what we connect with when it is set, as every later command does.
    env_url = os.environ.get(cfg.ENV_DB_URL)
    url = db_url or (cfg.without_password(env_url) if env_url else cfg.DEFAULT_DB)
    cfg.refuse_password(url)
    connect_url = env_url or url
    created: list[Path] = []
    if not root.exists():
        created.append(root)
    root.mkdir(parents=True, exist_ok=True)
    try:
        key_dir = (root / KEY_PATH).parent
        if not key_dir.exists():
            created.append(key_dir)
        verifier = create_key(root / KEY_PATH, origin, passphrase_env)
        created.append(root / KEY_PATH)
        resolved = cfg.resolve_db_url(connect_url, root)
        if url == cfg.DEFAULT_DB:
            evidence = root / "evidence"
            if not evidence.exists():
                evidence.mkdir(mode=0o700)
                created.append(evidence)
        with Store.open(resolved, upgrade=True) as store:
            if origin in store.origins():
                raise ConfigError(
                    f"the store already holds a log named {origin!r} (kept by another "
                    "workspace and key); choose another --origin or use that workspace"
                )
            store.log(origin, create=True)
        created.append(
            cfg.write(
                root,
                site=site,
                origin=origin,
                verifier_key=verifier,
                private_key=KEY_PATH,
                passphrase_env=passphrase_env,
                db_url=url,
            )
        )
    except BaseException:
        for path in reversed(created):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    return cfg.load(root)
