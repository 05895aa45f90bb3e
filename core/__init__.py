"""Pure domain logic: no Ray, no ccxt, no network or disk I/O, no wall clock."""
