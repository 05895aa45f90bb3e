"""Performance metrics as pure functions with crypto (365-day) annualisation."""
