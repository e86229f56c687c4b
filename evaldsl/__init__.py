"""evaldsl: a declarative language, compiler and runner for evaluating LLMs."""

__version__ = "0.1.0"
