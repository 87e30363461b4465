"""Collectors: sources become validated events ready for the store."""
