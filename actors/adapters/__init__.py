"""Adapters: the only importers of their outside libraries; they translate errors at the boundary."""
