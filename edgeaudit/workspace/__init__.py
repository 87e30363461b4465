"""The workspace: a directory with ``edgeaudit.toml``, the log key and (by default) the store.

This package's ``config`` module is safe for verifiers; ``keys`` handles the private key and is
imported only by commands that sign.
"""
