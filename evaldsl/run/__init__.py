"""Running: an execution graph → samples, model calls through the cache, scores, judges, a stored run."""
