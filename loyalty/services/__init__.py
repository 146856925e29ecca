"""Use cases: load what is needed, call the domain, write, in one transaction."""
