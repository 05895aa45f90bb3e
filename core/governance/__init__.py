"""Governance: the life of a policy from discovery to the active slot and back (pure)."""
