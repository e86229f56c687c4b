"""Judges that always answer: the packaged default model (SmolLM2-135M-Instruct) as a yes/no correctness judge
on 50 trivia questions, each answered once correctly and once wrongly (100 judged samples), with its verdict
parsed from generated JSON vs read by likelihood. Prints the unscored rate and the agreement with the
exact-match labels (1 for the correct answer, 0 for the wrong one) for both.

    PYTHONPATH=. python bench/judge_likelihood.py [--questions 50] [--out DIR] [--verdicts likelihood parsed]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from evaldsl import api
from evaldsl.run.runner import RunConfig
from evaldsl.store.sqlite import Store

TRIVIA = [
    ("What is the capital of France?", "Paris", "Madrid"),
    ("How many legs does a spider have?", "8", "6"),
    ("What colour is a ripe banana?", "yellow", "purple"),
    ("Which planet is known as the Red Planet?", "Mars", "Venus"),
    ("What is the largest ocean on Earth?", "Pacific", "Arctic"),
    ("Who wrote Romeo and Juliet?", "Shakespeare", "Dickens"),
    ("What is the boiling point of water in Celsius at sea level?", "100", "50"),
    ("What is the chemical symbol for gold?", "Au", "Ag"),
    ("How many days are in a leap year?", "366", "365"),
    ("What is the capital of Japan?", "Tokyo", "Beijing"),
    ("Which animal is known as the king of the jungle?", "lion", "rabbit"),
    ("What is 9 times 9?", "81", "72"),
    ("What gas do humans need to breathe to live?", "oxygen", "helium"),
    ("Which continent is Egypt in?", "Africa", "Europe"),
    ("What is the freezing point of water in Celsius?", "0", "20"),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci", "Pablo Picasso"),
    ("What is the tallest mountain in the world?", "Mount Everest", "Mont Blanc"),
    ("How many continents are there?", "7", "4"),
    ("What is the capital of Italy?", "Rome", "Vienna"),
    ("What is the largest planet in the Solar System?", "Jupiter", "Mercury"),
    ("What language is mainly spoken in Brazil?", "Portuguese", "German"),
    ("How many sides does a triangle have?", "3", "5"),
    ("What is the primary colour of grass?", "green", "orange"),
    ("Which metal is liquid at room temperature?", "mercury", "iron"),
    ("What is the capital of Germany?", "Berlin", "Lisbon"),
    ("Which organ pumps blood through the body?", "heart", "liver"),
    ("How many hours are in a day?", "24", "12"),
    ("What is the square root of 16?", "4", "8"),
    ("Which bird is a symbol of peace?", "dove", "crow"),
    ("What is the capital of Spain?", "Madrid", "Paris"),
    ("What do bees make?", "honey", "milk"),
    ("Which star is at the centre of our Solar System?", "the Sun", "Sirius"),
    ("How many minutes are in an hour?", "60", "100"),
    ("What is the capital of the United Kingdom?", "London", "Dublin"),
    ("What is frozen water called?", "ice", "steam"),
    ("Which instrument has 88 keys?", "piano", "violin"),
    ("What is the largest mammal?", "blue whale", "elephant"),
    ("How many wheels does a bicycle have?", "2", "3"),
    ("What is the capital of Canada?", "Ottawa", "Toronto"),
    ("Which sense do ears give us?", "hearing", "smell"),
    ("What is 10 plus 15?", "25", "30"),
    ("What is the opposite of hot?", "cold", "loud"),
    ("Which country has the kangaroo as a national symbol?", "Australia", "Norway"),
    ("What shape has four equal sides and four right angles?", "square", "circle"),
    ("What is the capital of Russia?", "Moscow", "Warsaw"),
    ("How many months are in a year?", "12", "10"),
    ("What is the main ingredient of bread?", "flour", "sugar"),
    ("Which planet do we live on?", "Earth", "Saturn"),
    ("What is the capital of Egypt?", "Cairo", "Nairobi"),
    ("How many players are on a soccer team on the field?", "11", "7"),
]

SPEC = """
dataset answers {{ path = "answers.jsonl" }}
model answerer {{ provider = "mock", response = "{{{{ shown }}}}" }}
model judge_model {{ provider = "hf", id = "smollm2-135m-instruct", max_tokens = 96, batch_size = 8 }}
judge correct {{
  model     = judge_model
  rubric    = "Is the response a correct answer to the question? yes if it matches the reference answer, else no."
  reference = "{{{{ answer }}}}"
  choices   = {{ yes = 1.0, no = 0.0 }}
  verdict   = "{verdict}"
}}
eval judged {{
  dataset = answers
  prompt  = "{{{{ question }}}}"
  models  = [answerer]
  target  = "{{{{ answer }}}}"
  metrics = [exact_match, correct]
}}
"""


def measure(folder: Path, verdict: str) -> dict[str, float]:
    spec = folder / f"{verdict}.eval"
    spec.write_text(SPEC.format(verdict=verdict), encoding="utf-8")
    start = time.perf_counter()
    result = api.run(api.compile(spec), RunConfig(store_dir=folder / f"store-{verdict}"))
    wall = time.perf_counter() - start
    assert result.run_id is not None and result.status in ("completed", "partial"), result.message
    with Store(folder / f"store-{verdict}") as store:
        records = list(store.iter_samples(result.run_id))
    n = len(records)
    scored = agree = 0
    for record in records:
        label = record.scores.get("exact_match")
        judged = (record.judges.get("correct") or {}).get("verdict") or {}
        verdict_label = judged.get("label")
        if verdict_label is None and judged.get("score") is not None and verdict == "parsed":
            verdict_label = "yes" if judged["score"] >= 0.5 else "no"
        if verdict_label is None:
            continue
        scored += 1
        agree += (verdict_label == "yes") == (label == 1.0)
    return {"samples": n, "unscored_rate": 1 - scored / n, "agreement_scored": agree / scored if scored else 0.0,
            "agreement_all": agree / n, "wall_s": wall}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--verdicts", nargs="+", default=["likelihood", "parsed"], choices=["likelihood", "parsed"])
    args = parser.parse_args()
    folder = args.out or Path(tempfile.mkdtemp(prefix="judge-likelihood-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for question, right, wrong in TRIVIA[: args.questions]:
        rows.append({"question": question, "answer": right, "shown": right})
        rows.append({"question": question, "answer": right, "shown": wrong})
    (folder / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} judged samples ({args.questions} questions, a right and a wrong answer each)")
    for verdict in args.verdicts:
        figures = measure(folder, verdict)
        print(f"{verdict:>10}: unscored {figures['unscored_rate']:.1%}, agreement with exact match "
              f"{figures['agreement_scored']:.1%} of scored ({figures['agreement_all']:.1%} of all), "
              f"{figures['wall_s']:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
