"""The airlock's business rules, with no I/O: states, decisions, review (votes)."""
