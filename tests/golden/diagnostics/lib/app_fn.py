"""A project function used as a model by e373_python_model_unknown_function.eval."""


def answer(messages, row, settings):
    return "42"
