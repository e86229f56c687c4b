"""The toy application's knowledge base and its retrieval (word overlap)."""

FACTS = {
    "France": "The capital of France is Paris.",
    "Japan": "The capital of Japan is Tokyo.",
    "Peru": "The capital of Peru is Lima.",
}


def retrieve(question: str) -> list[str]:
    """The facts sharing a word with the question."""
    words = set(question.replace("?", " ").split())
    return [fact for country, fact in FACTS.items() if country in words]
