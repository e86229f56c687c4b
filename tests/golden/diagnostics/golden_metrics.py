"""Python metrics for the golden diagnostics: read by parsing only (a check never imports them)."""


def score(prediction, references, row):
    return 1.0 if prediction in references else 0.0


def two_args(prediction, references):
    return 1.0


async def later(prediction, references, row):
    return 1.0
