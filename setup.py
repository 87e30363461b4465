"""Packaging beyond pyproject.toml (which holds everything else): three folders at the top of
the repository ship inside the package, where a regular (non-editable) install finds them, e.g.
the core-only ``pip install edgeaudit`` of an auditor: the Alembic migrations
(``edgeaudit._migrations``, for ``edgeaudit db upgrade``), the report templates
(``edgeaudit._report_templates``, for ``report.pdf``) and the demo's policies
(``edgeaudit._policies``, for ``edgeaudit demo``)."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["edgeaudit*"], exclude=["*.__pycache__"]),
        "edgeaudit._migrations",
        "edgeaudit._migrations.versions",
        "edgeaudit._report_templates",
        "edgeaudit._policies",
    ],
    package_dir={
        "edgeaudit._migrations": "migrations",
        "edgeaudit._report_templates": "report_templates",
        "edgeaudit._policies": "policies",
    },
)
