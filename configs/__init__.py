"""Configuration: frozen, strict pydantic models and the TOML profiles shipped beside them."""
