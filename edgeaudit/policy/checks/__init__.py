"""The built-in checks. Importing this package registers them (see ``registry``)."""

from edgeaudit.policy.checks import (  # noqa: F401
    integrity,
    jit,
    keys,
    physical,
    raci,
    reviews,
    segmentation,
)
