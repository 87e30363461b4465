"""The policy engine: the operating model as files, checks, results mapped to controls."""
