"""Command-line jobs (backtest runs, the demo) and the artifacts they write."""
