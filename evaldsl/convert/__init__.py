"""Converters from other evaluation tools' task definitions to `.eval` specs."""
