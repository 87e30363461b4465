"""The HTTP layer (FastAPI): the app, its routes, authentication, limits and the one error
shape.

The web framework is imported only by this module and the modules it assembles the app from:
the error shape and the routes' OpenAPI extras (:mod:`~edgeaudit.serve.api_errors`), the
exception handlers (:mod:`~edgeaudit.serve.handlers`), the token and parameter dependencies
(:mod:`~edgeaudit.serve.deps`), the public log routes (:mod:`~edgeaudit.serve.public_routes`),
the authenticated reads (:mod:`~edgeaudit.serve.read_routes`), the export routes
(:mod:`~edgeaudit.serve.export_routes`), the body limit (:mod:`~edgeaudit.serve.body_limit`),
the tiles and the pages. Every failure, whatever raised it (routing, validation,
authorization, the body limit, the rate limit, a bug), answers::

    {"error": {"status": 404, "code": "not_found", "message": "..."}}
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp

from edgeaudit import __version__
from edgeaudit.serve.body_limit import BodyLimit
from edgeaudit.serve.deps import API
from edgeaudit.serve.edge import Edge, PublicUrl, parse_proxies
from edgeaudit.serve.export_routes import add_export_routes
from edgeaudit.serve.handlers import add_exception_handlers
from edgeaudit.serve.public_routes import add_public_routes
from edgeaudit.serve.read_routes import add_assessment_routes, add_identity_routes
from edgeaudit.serve.service import Service

OPENAPI_URL = f"{API}/openapi.json"


def create_app(service: Service, *, pages: bool = True) -> FastAPI:
    app = FastAPI(
        title="edgeaudit",
        version=__version__,
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        description="Tenant self-service exports, findings, and public log proofs.",
    )
    app.state.service = service
    add_exception_handlers(app)
    add_public_routes(app, service)
    add_identity_routes(app, service)
    add_export_routes(app, service)
    add_assessment_routes(app, service)

    from edgeaudit.serve.log_tiles import LogTiles, add_log_tile_routes
    from edgeaudit.serve.tiles import TileLog, add_tile_routes

    app.state.tiles = TileLog(service.public)
    add_tile_routes(app, app.state.tiles)
    add_log_tile_routes(app, LogTiles(service.logs, app.state.tiles))

    if pages:
        from edgeaudit.serve.page_routes import add_pages

        add_pages(app, service)
    return app


def asgi(service: Service, *, pages: bool = True) -> ASGIApp:
    """The app in the body limit, in the edge layer (Host, headers, access log, refusals):
    what uvicorn serves."""
    s = service.settings
    from edgeaudit.serve.fastpath import FastPublic
    from edgeaudit.serve.tiles import FastTiles

    app = create_app(service, pages=pages)
    return Edge(
        FastPublic(
            FastTiles(BodyLimit(app, s.max_body), app.state.tiles),
            service.logs,
        ),
        public_url=PublicUrl.parse(s.base_url),
        proxies=parse_proxies(s.trusted_proxies),
        hsts=s.secure_cookies,
        denials=service.denials,
        access_log=s.access_log,
    )
