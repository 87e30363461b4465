"""The operating model as files: ``policies/`` with the inventory, the controls catalogue, the
rules, the RACI matrix, the isolation matrix, waivers and Cedar access policies.

Required: ``inventory.yaml``, ``controls.yaml``, ``rules.yaml``. Optional: ``raci.yaml`` (its
absence is a failing result, not an error), ``isolation.yaml``, ``waivers.yaml``,
``access/*.cedar``. Every file is validated on load; errors name the file, line and problem.
The digest covers every file read, so an assessment records exactly which model it judged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edgeaudit.canonical import files_digest
from edgeaudit.collect.inventory import Inventory, load_inventory
from edgeaudit.errors import ConfigError, EdgeauditError
from edgeaudit.policy.controls import Catalogue, load_controls
from edgeaudit.policy.model import Waiver
from edgeaudit.policy.raci import Raci, load_raci
from edgeaudit.policy.rules import Rules, load_rules
from edgeaudit.policy.waivers import load_waivers


@dataclass(frozen=True)
class Policies:
    root: Path
    inventory: Inventory
    catalogue: Catalogue
    rules: Rules
    raci: Raci | None
    waivers: tuple[Waiver, ...]
    cedar_files: tuple[Path, ...]
    matrix: Any  # IsolationMatrix | None
    matrix_error: str | None
    digest: str  # sha256 hex over every file read
    files: tuple[Path, ...]
    file_digests: tuple[tuple[str, str], ...] = ()  # (path relative to root, sha256 hex)


def load_policies(root: str | Path) -> Policies:
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: policy directory not found")
    used: list[Path] = []

    def need(name: str) -> Path:
        path = root / name
        if not path.is_file():
            raise ConfigError(f"{path}: required policy file is missing")
        used.append(path)
        return path

    def maybe(name: str) -> Path | None:
        path = root / name
        if path.is_file():
            used.append(path)
            return path
        return None

    inventory = load_inventory(need("inventory.yaml"))
    catalogue = load_controls(need("controls.yaml"))
    raci_path = maybe("raci.yaml")
    raci = load_raci(raci_path, inventory) if raci_path else None
    if raci is not None:  # reasons name files relative to the policies folder, never a path
        raci = replace(raci, file=raci_path.name if raci_path else raci.file)
    activities = frozenset(raci.activities()) if raci is not None else None
    rules = load_rules(need("rules.yaml"), catalogue, inventory, activities)
    waiver_path = maybe("waivers.yaml")
    waivers = (
        load_waivers(waiver_path, inventory, {r.id for r in rules.rules}, activities)
        if waiver_path
        else ()
    )
    matrix, matrix_error = None, None
    iso_path = maybe("isolation.yaml")
    if iso_path is not None:
        try:
            from edgeaudit.policy.isolation import load_isolation
        except ImportError:  # pragma: no cover - the probe package ships it
            matrix_error = "isolation matrix support is not installed"
        else:
            try:
                matrix = load_isolation(iso_path, inventory)
            except EdgeauditError:
                raise
    cedar_files = (
        tuple(sorted((root / "access").glob("*.cedar"))) if (root / "access").is_dir() else ()
    )
    used.extend(cedar_files)
    named = [(p.relative_to(root).as_posix(), p.read_bytes()) for p in used]
    digest = files_digest(named)
    file_digests = tuple(sorted((name, hashlib.sha256(data).hexdigest()) for name, data in named))
    return Policies(
        root,
        inventory,
        catalogue,
        rules,
        raci,
        waivers,
        cedar_files,
        matrix,
        matrix_error,
        digest,
        tuple(sorted(used)),
        file_digests,
    )
