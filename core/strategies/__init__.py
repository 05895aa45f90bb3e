"""Built-in strategies producing target positions: momentum, mean reversion, pairs."""
