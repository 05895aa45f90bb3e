"""Live trading actors: feeds, risk, execution, candidates, store and their plumbing."""
