"""C2SP tlog-tiles: resource paths, widths, and tiles assembled from the store's tiles.

A C2SP tile ``(L, N)`` holds up to 256 consecutive complete nodes at tree level ``8 L``
(indices ``256 N ..``); a full one is 256 hashes (8,192 bytes). The store keeps tiles 16 wide
and 4 levels high (:mod:`edgeaudit.merkle.tiles`): the bottom row of store tile
``(2 L, 16 N + j)`` holds nodes ``16 (16 N + j) ..`` at that same tree level, so the C2SP tile
is the concatenation of the bottom rows of store tiles ``(2 L, 16 N) .. (2 L, 16 N + 15)``,
cut to its width. Nothing is hashed.

Paths (``tile/<L>/<N>[.p/<W>]``, ``tile/entries/<N>[.p/<W>]``): ``L`` 0..63 and ``W`` 1..255
in decimal without leading zeros; ``N`` in zero-padded 3-digit groups, all but the last
starting with ``x`` (1234067 is ``x001/x234/067``). Only the canonical spelling parses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from edgeaudit.canonical import HASH_SIZE
from edgeaudit.merkle.tiles import TILE_HEIGHT, TILE_WIDTH, TileKey, bottom_row

C2SP_HEIGHT: Final = 8
C2SP_WIDTH: Final = 1 << C2SP_HEIGHT
MAX_LEVEL: Final = 63
MAX_BUNDLE_ENTRY: Final = 0xFFFF  # a bundle frames each entry with a big-endian uint16 length
_PER_C2SP: Final = C2SP_HEIGHT // TILE_HEIGHT  # store tile levels per C2SP tile level
_STORE_PER_C2SP: Final = C2SP_WIDTH // TILE_WIDTH  # store tiles per C2SP tile row


@dataclass(frozen=True)
class TileRef:
    """One tlog-tiles resource: a hash tile (``level`` 0..63) or an entry bundle
    (``level`` None); ``width`` is 256 for a full tile, else the partial width."""

    level: int | None
    index: int
    width: int

    @property
    def full(self) -> bool:
        return self.width == C2SP_WIDTH

    @property
    def start(self) -> int:
        """The first tree-level-``8 L`` node the resource holds."""
        return self.index * C2SP_WIDTH

    def path(self) -> str:
        """The resource path below the log's prefix (``tile/...``)."""
        head = "entries" if self.level is None else str(self.level)
        tail = "" if self.full else f".p/{self.width}"
        return f"tile/{head}/{encode_index(self.index)}{tail}"

    def needed_size(self) -> int:
        """The smallest tree size that holds every hash (or entry) of this resource."""
        level = 0 if self.level is None else self.level
        return (self.start + self.width) << (C2SP_HEIGHT * level)


def encode_index(n: int) -> str:
    """``N`` as zero-padded 3-digit groups, all but the last prefixed with ``x``."""
    if n < 0:
        raise ValueError(f"a tile index must not be negative, got {n}")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def _plain_int(text: str, least: int, most: int) -> int | None:
    if not text or not (text.isascii() and text.isdigit()) or len(text) > len(str(most)):
        return None
    if text != "0" and text.startswith("0"):
        return None
    n = int(text)
    return n if least <= n <= most else None


def parse_path(path: str) -> TileRef:
    """Parse ``tile/...`` (no leading slash); ValueError naming the path and what is wrong."""
    try:
        return _parse(path)
    except ValueError as exc:
        raise ValueError(f"tile path {path[:120]!r}: {exc}") from None


def _parse(path: str) -> TileRef:
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise ValueError("not tile/<L>/<N>[.p/<W>] nor tile/entries/<N>[.p/<W>]")
    level: int | None = None
    if parts[1] != "entries":
        level = _plain_int(parts[1], 0, MAX_LEVEL)
        if level is None:
            raise ValueError(f"tile level {parts[1]!r} is not 0..63 without leading zeros")
    rest = parts[2:]
    width = C2SP_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        w = _plain_int(rest[-1], 1, C2SP_WIDTH - 1)
        if w is None:
            raise ValueError(f"partial width {rest[-1]!r} is not 1..255 without leading zeros")
        width = w
        rest = [*rest[:-2], rest[-2][:-2]]
    index = _parse_index(rest)
    return TileRef(level, index, width)


def _parse_index(groups: Sequence[str]) -> int:
    n = 0
    for i, group in enumerate(groups):
        last = i == len(groups) - 1
        digits = group if last else group[1:]
        if (not last and not group.startswith("x")) or len(digits) != 3:
            raise ValueError(f"tile index element {group!r} is not {'ddd' if last else 'xddd'}")
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError(f"tile index element {group!r} is not {'ddd' if last else 'xddd'}")
        n = n * 1000 + int(digits)
    if len(groups) > 1 and groups[0] == "x000":
        raise ValueError("a tile index has no leading x000 element")
    if n > 2**63:
        raise ValueError("tile index out of range")
    return n


def partial_width(size: int, level: int) -> int:
    """The width of the partial tile at ``level`` in a tree of ``size`` (0: none)."""
    return (size >> (C2SP_HEIGHT * level)) % C2SP_WIDTH


def tile_set(size: int) -> list[TileRef]:
    """Every hash tile of a tree of ``size``, level by level (full, then the partial one)."""
    out: list[TileRef] = []
    level = 0
    while size >> (C2SP_HEIGHT * level):
        count = size >> (C2SP_HEIGHT * level)
        out += [TileRef(level, n, C2SP_WIDTH) for n in range(count // C2SP_WIDTH)]
        if count % C2SP_WIDTH:
            out.append(TileRef(level, count // C2SP_WIDTH, count % C2SP_WIDTH))
        level += 1
    return out


def store_keys(ref: TileRef) -> list[TileKey]:
    """The store tiles whose bottom rows make up hash tile ``ref``, in order."""
    if ref.level is None:
        raise ValueError("an entry bundle is not made of tiles")
    count = -(-ref.width // TILE_WIDTH)
    first = ref.index * _STORE_PER_C2SP
    return [(ref.level * _PER_C2SP, first + j) for j in range(count)]


def assemble(ref: TileRef, stored: Mapping[TileKey, bytes]) -> bytes:
    """Hash tile ``ref`` from the store tiles of :func:`store_keys` (LookupError if one is
    missing or narrower than the tile needs: the store is damaged or behind)."""
    keys = store_keys(ref)
    rows = []
    for key in keys:
        blob = stored.get(key)
        if blob is None:
            raise LookupError(f"store tile {key} is missing (needed for {ref.path()})")
        rows.append(bottom_row(blob))
    out = b"".join(rows)[: ref.width * HASH_SIZE]
    if len(out) != ref.width * HASH_SIZE:
        raise LookupError(
            f"store tiles {keys[0]}..{keys[-1]} hold {len(out) // HASH_SIZE} hashes, "
            f"{ref.path()} needs {ref.width}"
        )
    return out


def bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry prefixed with its length as a big-endian uint16."""
    parts: list[bytes] = []
    for i, entry in enumerate(entries):
        if len(entry) > MAX_BUNDLE_ENTRY:
            raise ValueError(
                f"entry {i} of the bundle is {len(entry)} bytes, over the {MAX_BUNDLE_ENTRY} "
                "an entry bundle can frame"
            )
        parts += (len(entry).to_bytes(2, "big"), entry)
    return b"".join(parts)
