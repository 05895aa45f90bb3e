"""The alpha language: typed S-expressions, their parser and printer, and their evaluation."""
