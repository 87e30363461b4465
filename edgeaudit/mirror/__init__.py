"""The campus mirror: copy pods' logs, published as C2SP tlog-tiles, into the central store.

``http`` fetches a pod's checkpoint, tiles and entry bundles (standard library HTTP, rate
limited); ``tiles`` authenticates tiles against a signed root and recomputes roots from them
(no network, no store); ``sync`` runs one pass over the mirrors and stores only what is proven;
``forks`` keeps the proof when a pod's new checkpoint contradicts what the mirror holds.
"""
