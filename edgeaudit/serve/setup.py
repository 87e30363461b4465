"""Build the service for a workspace: the token key parsed once, its public half kept."""

from __future__ import annotations

from collections.abc import Callable

from edgeaudit.serve.revocation import Revocations
from edgeaudit.serve.service import Service, Settings
from edgeaudit.serve.tokens import TokenVerifier
from edgeaudit.workspace.config import WorkspaceConfig
from edgeaudit.workspace.token_key import load_token_key, token_kid


def issuer(config: WorkspaceConfig) -> str:
    return config.origin


def make_service(config: WorkspaceConfig, settings: Settings) -> Service:
    public = load_token_key(config).public_key()
    kid = token_kid(public)

    def factory(revoked: Revocations, tenants: Callable[[], frozenset[str]]) -> TokenVerifier:
        return TokenVerifier(
            public, kid, issuer(config), revoked=revoked.is_revoked, tenants=tenants
        )

    return Service(config, settings, verifier_factory=factory)
