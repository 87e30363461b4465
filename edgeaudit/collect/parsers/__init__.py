"""Built-in parsers, one module per source format, registered as ``edgeaudit.parsers`` entry
points exactly like a third party's would be."""
