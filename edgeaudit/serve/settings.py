"""``edgeaudit serve``'s settings (from the command line) and the period parameter."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeaudit.pack.period import Period


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    policies: Path | None = None  # default: the workspace's policies/
    max_body: int = 64 * 1024
    rate: float = 10.0  # requests per second per token
    burst: int = 40
    secure_cookies: bool = False  # set on anything that is not plain http://127.0.0.1
    pdf: bool = True  # tenant packs with report.pdf
    with_scheduler: bool = False
    exports: Path | None = None  # default: the workspace's exports/
    max_pending: int = 3  # queued or running exports per scope (tenant or site)
    cache_seconds: float = 60.0  # an assessment is reused for this long (0: evaluate each time)
    alert_webhook: str | None = None
    alert_command: str | None = None
    alert_interval: float = 30.0
    verify_every: float = 0.0  # seconds between store verifications by the alert watcher
    public_url: str | None = None  # the service's address (default http://HOST:PORT)
    trusted_proxies: tuple[str, ...] = ()  # X-Forwarded-For is honoured only from these
    session_idle: float = 30 * 60.0  # a page session ends after this long unused
    session_max: float = 12 * 3600.0  # ... and this long after sign-in, whatever the token
    denied_keys: int = 100  # distinct keys of access.denied entries per minute
    access_log: bool = True  # one JSON line per request on stderr
    export_ttl: float = 7 * 86400.0  # finished exports are deleted after this long
    export_quota: int = 20  # exports a scope (a tenant, or the site) may ask for per day
    workers: int = 1  # processes serving (more than one: rate limits shared through state.db)
    revocation_poll: float = 2.0  # seconds between reads of the store's token.revoked entries

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def parse_period(
    period: str | None, date_from: str | None = None, date_to: str | None = None
) -> Period:
    from edgeaudit.serve import params

    return params.period(period, date_from, date_to)
