"""A C2SP tlog-witness (https://c2sp.org/tlog-witness): cosign checkpoints of known logs.

The witness cosigns a checkpoint only when a consistency proof from the last size it cosigned
for that log verifies, and it stores the new size and root durably before it answers.
"""

from edgeaudit.witness.client import WitnessConflict, WitnessRefused, add_checkpoint
from edgeaudit.witness.protocol import AddCheckpoint, Refusal, parse_add_checkpoint

__all__ = [
    "AddCheckpoint",
    "Refusal",
    "WitnessConflict",
    "WitnessRefused",
    "add_checkpoint",
    "parse_add_checkpoint",
]
