"""The toy application's entry points, as `provider = "python"` models call them."""

from __future__ import annotations

import asyncio

from my_app.knowledge import retrieve


def answer(messages, row, settings):
    """Answer the last user message from the retrieved facts; report what was retrieved as metadata."""
    question = messages[-1]["content"]
    facts = retrieve(question)
    if not facts:
        return {"output": "I don't know.", "metadata": {"retrieved": 0}}
    city = facts[0].rstrip(".").split()[-1]
    return {
        "output": city,
        "metadata": {"retrieved": len(facts), "sources": facts},
        "usage": {"prompt_tokens": len(question.split()), "completion_tokens": 1},
        "cost": 0.0,
    }


async def answer_async(messages, row):
    """The same, as an async function that takes only the messages and the row."""
    await asyncio.sleep(0)
    return answer(messages, row, {})["output"]


def sometimes(messages, row, settings):
    """A flaky answerer for specs/repeats.eval: right about half of the time, decided by the question and the
    attempt's seed (so every attempt is reproducible)."""
    import random

    draw = random.Random(f"{messages[-1]['content']}|{settings['seed']}").random()
    return answer(messages, row, settings)["output"] if draw < 0.5 else "Atlantis"


def weather_agent(messages, row, settings):
    """A toy agent for specs/tools.eval: calls the weather tool it was given for the city in the question."""
    names = [tool["name"] for tool in settings.get("tools", [])]
    city = messages[-1]["content"].rstrip("?").split()[-1]
    if "get_weather" not in names:
        return f"I cannot look up the weather in {city}."
    unit = "fahrenheit" if city == "Boston" else "celsius"
    return {"output": "", "tool_calls": [{"name": "get_weather", "arguments": {"city": city, "unit": unit}}]}


def chat(messages, row, settings):
    """A toy assistant for specs/conversations.eval: answers the last user message from the facts, using the
    country named earlier in the conversation when the message names none ("And its population?")."""
    for message in reversed(messages):
        if message["role"] == "user" and retrieve(message["content"]):
            return answer([message], row, settings)["output"]
    return "I don't know."


def traveller(messages, row, settings):
    """A simulated user for specs/conversations.eval: after the assistant's first reply, asks about the next
    country on its list (its instructions, the system message, name the list)."""
    countries = messages[0]["content"].split(":")[-1].split()
    asked = sum(1 for m in messages if m["role"] == "assistant") - 1  # its questions so far (roles swapped)
    return f"And which is the capital of {countries[min(asked, len(countries) - 1)]}?"
