"""edgeaudit: tamper-evident audit evidence for multi-tenant micro edge data centers."""

__version__ = "0.1.0"
