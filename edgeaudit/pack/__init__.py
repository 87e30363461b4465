"""Audit packs: one signed, proven snapshot of the log for a period (and optionally a tenant).

``build`` makes packs (it signs, so verifiers never import this package);
``edgeaudit.verify.pack`` checks them offline.
"""

from edgeaudit.pack.build import PackRequest, PackResult, build_pack
from edgeaudit.pack.period import Period

__all__ = ["PackRequest", "PackResult", "Period", "build_pack"]
