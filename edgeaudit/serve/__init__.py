"""``edgeaudit serve``: the tenant self-service API, public log endpoints and officer pages.

Only :mod:`edgeaudit.serve.app` imports the web framework; tokens, authorization, export jobs
and access records are plain modules tested on their own.
"""
