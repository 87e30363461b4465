"""``edgeaudit serve``: the tenant self-service API, public log endpoints and officer pages.

The web framework is imported only by the HTTP layer: :mod:`edgeaudit.serve.app`, which
assembles the routes (``*_routes``, ``tiles``, ``log_tiles``), their dependencies (``deps``),
error shape and handlers (``api_errors``, ``handlers``), middleware (``body_limit``, ``edge``,
``fastpath``) and the worker entry (``worker``). Tokens, authorization, export jobs and access
records are plain modules tested on their own.
"""
