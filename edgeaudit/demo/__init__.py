"""Demo data: a deterministic quarter of the demo pod in every source format (``campus``)."""

from edgeaudit.demo.campus import generate_campus

__all__ = ["generate_campus"]
