"""RFC 6962 / RFC 9162 Merkle trees: tree math and proofs, tiles, and offline verification.

``tree`` builds roots and proofs from any :class:`NodeSource`; ``tiles`` is how the store
persists nodes; ``verify`` checks proofs and imports nothing but hashing and errors.
"""

from edgeaudit.merkle.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileKey,
    TileNodeSource,
    bottom_row,
    extend_tiles,
    right_edge,
    tile_for,
    tile_hash_count,
    tile_width,
    tiles_for,
    width_of,
)
from edgeaudit.merkle.tree import (
    CompactRange,
    MemoryTree,
    Node,
    NodeSource,
    consistency_proof,
    frontier_nodes,
    inclusion_proof,
    root,
)
from edgeaudit.merkle.verify import (
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "CompactRange",
    "MemoryTree",
    "Node",
    "NodeSource",
    "TileKey",
    "TileNodeSource",
    "bottom_row",
    "consistency_proof",
    "extend_tiles",
    "frontier_nodes",
    "inclusion_proof",
    "right_edge",
    "root",
    "root_from_inclusion_proof",
    "tile_for",
    "tile_hash_count",
    "tile_width",
    "tiles_for",
    "verify_consistency",
    "verify_inclusion",
    "width_of",
]
