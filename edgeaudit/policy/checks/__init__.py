"""The built-in checks. Importing this package registers them (see ``registry``)."""

from edgeaudit.policy.checks import (  # noqa: F401
    access,
    clocks,
    incidents,
    integrity,
    jit,
    jit_approvals,
    key_lifecycle,
    keys,
    leavers,
    logons,
    physical,
    physical_alarms,
    probes_missed,
    raci,
    residency,
    retention,
    reviews,
    segmentation,
)
