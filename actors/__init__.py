"""Ray actors and the adapters that own I/O (exchange, store, clock, LLM, HTTP)."""
