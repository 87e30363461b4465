"""The one exception hierarchy of edgeaudit.

::

    EdgeauditError                  base; the CLI catches it in one place (exit 2 unless noted)
    ├── ConfigError                 workspace missing, bad config, unreadable key, bad passphrase
    ├── InputError                  bad input (names file/line/field); nothing was written
    │   └── CanonicalError          a value that has no RFC 8785 canonical form
    ├── StoreError                  the database refused or is not what we expect
    │   └── InconsistentCheckpointError  refusing to sign a checkpoint that contradicts an old one
    └── VerificationError           evidence does not verify (CLI exit 1)
        ├── ProofError              an inclusion/consistency proof is malformed or wrong
        ├── NoteError               a signed note/checkpoint is malformed or its signature fails
        └── TamperError             the store contradicts itself or its signed checkpoints

Verification raises; it never returns False.
"""

from __future__ import annotations


class EdgeauditError(Exception):
    """Base class of every error edgeaudit raises on purpose."""

    exit_code: int = 2


class ConfigError(EdgeauditError):
    """The workspace, its configuration or its key cannot be used."""


class InputError(EdgeauditError):
    """Input was rejected. The message names the file, line or field and what was wrong."""


class CanonicalError(InputError):
    """A value cannot be encoded as RFC 8785 canonical JSON."""


class StoreError(EdgeauditError):
    """The evidence store could not complete an operation."""


class InconsistentCheckpointError(StoreError):
    """Signing was refused: the tree does not extend a checkpoint signed earlier."""


class VerificationError(EdgeauditError):
    """Evidence failed verification."""

    exit_code = 1


class ProofError(VerificationError):
    """An inclusion or consistency proof is malformed or does not verify."""


class NoteError(VerificationError):
    """A signed note or checkpoint is malformed, or no trusted signature verifies."""


class TamperError(VerificationError):
    """The store contradicts itself or a signed checkpoint."""
