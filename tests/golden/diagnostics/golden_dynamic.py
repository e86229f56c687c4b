"""A module whose functions are made on demand: `check` cannot tell whether it defines one without importing it."""


def __getattr__(name):
    raise AttributeError(name)
