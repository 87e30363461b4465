"""Packaging beyond pyproject.toml (which holds everything else): the Alembic migrations live in
``migrations/`` at the top of the repository and ship inside the package as
``edgeaudit._migrations``, where ``edgeaudit db upgrade`` finds them in a regular (non-editable)
install, e.g. the core-only ``pip install edgeaudit`` of an auditor."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["edgeaudit*"], exclude=["*.__pycache__"]),
        "edgeaudit._migrations",
        "edgeaudit._migrations.versions",
    ],
    package_dir={"edgeaudit._migrations": "migrations"},
)
