"""The controls catalogue (``policies/controls.yaml``): ISO/IEC 27001:2022 Annex A, SOC 2 and
PCI DSS v4.0.1 controls, what each asks, the evidence streams it draws on, and its OSCAL id.

A control is referred to as ``FRAMEWORK:CONTROL`` (``iso27001-2022:a.8.2``, ``soc2:cc6.3``,
``pci-dss-4.0.1:11.4.5``). ``supports_only`` marks controls automated evidence can support but
not satisfy (PCI 11.4.5 / 11.4.6 / A1.1.4 call for a qualified, independent tester).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edgeaudit.yamlfile import load_yaml

STREAMS: Final = frozenset({"ADM", "JIT", "KEY", "SEG", "RACI", "STORE", "PHYS"})
_OSCAL_TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")


@dataclass(frozen=True, slots=True)
class Control:
    framework: str
    id: str
    title: str
    streams: tuple[str, ...]
    oscal_id: str
    supports_only: bool
    line: int

    @property
    def ref(self) -> str:
        return f"{self.framework}:{self.id}"


@dataclass(frozen=True, slots=True)
class Framework:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class Catalogue:
    file: str
    frameworks: tuple[Framework, ...]
    controls: tuple[Control, ...]

    def get(self, ref: str) -> Control | None:
        return next((c for c in self.controls if c.ref == ref), None)

    def of(self, framework: str) -> tuple[Control, ...]:
        return tuple(c for c in self.controls if c.framework == framework)

    @property
    def framework_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.frameworks)


def load_controls(path: str | Path) -> Catalogue:
    root = load_yaml(path, "controls catalogue")
    top = root.mapping({"version", "frameworks"}, {"frameworks"})
    frameworks: list[Framework] = []
    controls: list[Control] = []
    for fid_node, body in top["frameworks"].pairs("framework"):
        fid = fid_node.text("framework id")
        f = body.mapping({"title", "controls"}, {"title", "controls"})
        frameworks.append(Framework(fid, f["title"].text("title")))
        for cid_node, cbody in f["controls"].pairs("control"):
            cid = cid_node.text("control id")
            c = cbody.mapping(
                {"title", "streams", "oscal_id", "supports_only"}, {"title", "streams"}
            )
            streams = c["streams"].texts("stream")
            for s in streams:
                if s not in STREAMS:
                    raise c["streams"].fail(
                        f"unknown evidence stream {s!r} (known: {', '.join(sorted(STREAMS))})"
                    )
            oscal_id = c["oscal_id"].text("oscal_id") if "oscal_id" in c else cid
            if not _OSCAL_TOKEN.match(oscal_id):
                raise c.get("oscal_id", cid_node).fail(
                    f"OSCAL control id {oscal_id!r} is not a token (e.g. a.5.15, pci-dss-11.4.5)"
                )
            supports = (
                c["supports_only"].boolean("supports_only") if "supports_only" in c else False
            )
            controls.append(
                Control(fid, cid, c["title"].text("title"), streams, oscal_id, supports, cbody.line)
            )
    return Catalogue(root.file, tuple(frameworks), tuple(controls))
