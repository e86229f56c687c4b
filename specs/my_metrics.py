"""Example user metric for `metric mine = python("my_metrics:brevity")` in specs/language.eval."""


def brevity(prediction, references, row):
    """1.0 for an answer no longer than the longest reference (in words), shrinking as it grows longer."""
    longest = max((len(r.split()) for r in references), default=1) or 1
    words = len(prediction.split())
    return 1.0 if words <= longest else longest / words
