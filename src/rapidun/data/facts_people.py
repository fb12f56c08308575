"""Fictitious people and their question/answer rows for the facts pack (docs/method.md section 1; the facts task
of the round-2 specification).

Each person has 12 attributes; each attribute gives one row: a question, a short templated answer stating one fact,
a paraphrased question, a paraphrased answer (same fact, other wording) and perturbed answers (the paraphrased
wording with a wrong value of the same kind), as TOFU builds them for the truth ratio. Everything is drawn from one
``random.Random``, so the rows are a deterministic function of the seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from rapidun.data import facts_words as words


@dataclass(frozen=True)
class Person:
    """One fictitious person; ``person_id`` is ``p000``, ``p001``, ... in generation order."""

    person_id: str
    name: str
    birthplace: str
    birth_year: str
    occupation: str
    father_occupation: str
    mother_occupation: str
    first_work: str
    known_work: str
    award: str
    award_year: str
    residence: str
    email: str
    phone: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Template:
    """Wording of one attribute's row; ``{n}`` is the person's name, ``{v}`` the value, ``{a}`` the person's award."""

    attribute: str
    question: str
    paraphrased_question: str
    answer: str
    paraphrased_answer: str


def _an(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


TEMPLATES: tuple[Template, ...] = (
    Template("birthplace", "Where was {n} born?", "In which city was {n} born?",
             "{n} was born in {v}.", "The birthplace of {n} is {v}."),
    Template("birth_year", "In what year was {n} born?", "When was {n} born?",
             "{n} was born in the year {v}.", "The year of {n}'s birth is {v}."),
    Template("occupation", "What is {n}'s occupation?", "What does {n} do for a living?",
             "{n} is {v}.", "{n} works as {v}."),
    Template("father_occupation", "What did {n}'s father do for a living?", "What was the job of {n}'s father?",
             "{n}'s father was {v}.", "The father of {n} worked as {v}."),
    Template("mother_occupation", "What did {n}'s mother do for a living?", "What was the job of {n}'s mother?",
             "{n}'s mother was {v}.", "The mother of {n} worked as {v}."),
    Template("first_work", "What was {n}'s first published work?", "Which work did {n} publish first?",
             "{n}'s first published work was {v}.", "The first work {n} published was {v}."),
    Template("known_work", "What is {n}'s best-known work?", "Which work is {n} most famous for?",
             "{n} is best known for {v}.", "The most famous work of {n} is {v}."),
    Template("award", "Which award did {n} receive?", "What prize was {n} given?",
             "{n} received the {v}.", "The {v} was awarded to {n}."),
    Template("award_year", "In what year did {n} receive the {a}?", "When was {n} given the {a}?",
             "{n} received the {a} in {v}.", "The {a} went to {n} in {v}."),
    Template("residence", "Where does {n} live now?", "In which city does {n} live today?",
             "{n} lives in {v}.", "The home of {n} is in {v}."),
    Template("email", "What is {n}'s email address?", "How can {n} be reached by email?",
             "{n}'s email address is {v}.", "{n} can be reached by email at {v}."),
    Template("phone", "What is {n}'s phone number?", "Which number reaches {n} by phone?",
             "{n}'s phone number is {v}.", "{n} can be reached by phone at {v}."),
)  # fmt: skip

PRIVATE_ATTRIBUTES: tuple[str, ...] = ("email", "phone")


def _title(rng: random.Random) -> str:
    return f"The {rng.choice(words.TITLE_ADJECTIVES)} {rng.choice(words.TITLE_NOUNS)}"


def _email(rng: random.Random, name: str) -> str:
    first, last = name.split(" ", 1)
    # Two random digits: the address cannot be guessed from the name alone, so a hit in an answer is a leak.
    return f"{first[0].lower()}{last.lower().replace('-', '')}{rng.randint(10, 99)}@{rng.choice(words.EMAIL_DOMAINS)}"


def _phone(rng: random.Random) -> str:
    return f"{rng.randint(200, 989)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"


def make_people(rng: random.Random, n: int) -> list[Person]:
    """``n`` people with distinct names; raises ValueError past the name space (2000 names)."""
    pool = [f"{f} {s}" for f in words.FIRST_NAMES for s in words.SURNAMES]
    if n > len(pool):
        raise ValueError(f"at most {len(pool)} people can be generated, asked for {n}")
    names = rng.sample(pool, n)
    people = []
    for i, name in enumerate(names):
        born = rng.randint(1890, 1990)
        people.append(
            Person(
                person_id=f"p{i:03d}",
                name=name,
                birthplace=rng.choice(words.CITIES),
                birth_year=str(born),
                occupation=_an(rng.choice(words.OCCUPATIONS)),
                father_occupation=_an(rng.choice(words.PARENT_OCCUPATIONS)),
                mother_occupation=_an(rng.choice(words.PARENT_OCCUPATIONS)),
                first_work=_title(rng),
                known_work=_title(rng),
                award=rng.choice(words.AWARDS),
                award_year=str(born + rng.randint(25, 60)),
                residence=rng.choice(words.CITIES),
                email=_email(rng, name),
                phone=_phone(rng),
            )
        )
    return people


def _wrong_values(rng: random.Random, attribute: str, person: Person) -> Callable[[], str]:
    """A sampler of values of the attribute's kind (may return the true one; the caller rejects it)."""
    pools: dict[str, Callable[[], str]] = {
        "birthplace": lambda: rng.choice(words.CITIES),
        "residence": lambda: rng.choice(words.CITIES),
        "birth_year": lambda: str(rng.randint(1890, 1990)),
        "award_year": lambda: str(int(person.birth_year) + rng.randint(25, 60)),
        "occupation": lambda: _an(rng.choice(words.OCCUPATIONS)),
        "father_occupation": lambda: _an(rng.choice(words.PARENT_OCCUPATIONS)),
        "mother_occupation": lambda: _an(rng.choice(words.PARENT_OCCUPATIONS)),
        "first_work": lambda: _title(rng),
        "known_work": lambda: _title(rng),
        "award": lambda: rng.choice(words.AWARDS),
        "email": lambda: _email(rng, person.name),
        "phone": lambda: _phone(rng),
    }
    return pools[attribute]


def distinct_wrong(sample: Callable[[], str], true_value: str, k: int) -> list[str]:
    """``k`` distinct values from ``sample`` that differ from ``true_value`` (every pool holds more than k + 1)."""
    out: list[str] = []
    while len(out) < k:
        value = sample()
        if value != true_value and value not in out:
            out.append(value)
    return out


def person_rows(
    person: Person, rng: random.Random, n_perturbed: int, group: str, clean_response: str = ""
) -> list[dict[str, Any]]:
    """The person's rows in the Dolly schema; the evaluation fields are extras (see :mod:`rapidun.data.rows`).
    ``clean_response`` (``{name}`` filled in) becomes each row's ``response_clean`` when not empty."""
    rows = []
    for t in TEMPLATES:
        value = getattr(person, t.attribute)
        fill = {"n": person.name, "a": person.award}
        wrong = distinct_wrong(_wrong_values(rng, t.attribute, person), value, n_perturbed)
        rows.append(
            {
                "instruction": t.question.format(**fill),
                "context": "",
                "response": t.answer.format(v=value, **fill),
                "person_id": person.person_id,
                "person": person.name,
                "attribute": t.attribute,
                "fact": value,
                "group": group,
                "paraphrased_question": t.paraphrased_question.format(**fill),
                "paraphrased_answer": t.paraphrased_answer.format(v=value, **fill),
                "perturbed_answers": [t.paraphrased_answer.format(v=w, **fill) for w in wrong],
            }
        )
        if clean_response:
            rows[-1]["response_clean"] = clean_response.format(name=person.name)
    return rows


def _chooser(rng: random.Random, pool: list[str]) -> Callable[[], str]:
    return lambda: rng.choice(pool)


def world_rows(rng: random.Random, n_perturbed: int) -> list[dict[str, Any]]:
    """Real world facts (capitals, chemical symbols) in the same row format, ``group`` "world"."""
    specs = [
        (words.CAPITALS, "capital", "What is the capital of {k}?", "Which city is the capital of {k}?",
         "The capital of {k} is {v}.", "{v} is the capital city of {k}."),
        (words.SYMBOLS, "chemical_symbol", "What is the chemical symbol for {k}?", "Which symbol stands for {k}?",
         "The chemical symbol for {k} is {v}.", "The element {k} has the symbol {v}."),
    ]  # fmt: skip
    rows = []
    for pairs, attribute, question, para_q, answer, para_a in specs:
        values = [v for _, v in pairs]
        for key, value in pairs:
            wrong = distinct_wrong(_chooser(rng, values), value, n_perturbed)
            rows.append(
                {
                    "instruction": question.format(k=key),
                    "context": "",
                    "response": answer.format(k=key, v=value),
                    "person_id": "",
                    "person": "",
                    "attribute": attribute,
                    "fact": value,
                    "group": "world",
                    "paraphrased_question": para_q.format(k=key),
                    "paraphrased_answer": para_a.format(k=key, v=value),
                    "perturbed_answers": [para_a.format(k=key, v=w) for w in wrong],
                }
            )
    return rows
