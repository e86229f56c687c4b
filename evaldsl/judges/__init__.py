"""LLM-as-a-judge: judge configuration, hardened prompts, verdict parsing and vote aggregation."""
