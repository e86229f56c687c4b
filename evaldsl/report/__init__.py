"""Presenting compiled graphs and run results: console tables, JSON, HTML reports and diffs."""
