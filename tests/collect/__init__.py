"""Shared by the collector and demo tests."""

BUILT_IN_KINDS = frozenset(
    {
        "syslog",
        "sudo-json",
        "journald",
        "auditd",
        "teleport",
        "vault",
        "vault-keystate",
        "cloudtrail",
        "kms-rotation",
        "badge-csv",
    }
)
