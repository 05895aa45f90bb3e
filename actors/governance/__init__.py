"""Governance on the store: the ledger applied to sessions, gate evidence, promotion flows."""
