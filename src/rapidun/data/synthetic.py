"""Embedded data, no downloads: a deterministic generator of clean instruction rows and of poisoned responses.

Clean rows cover several task types (questions about a made-up atlas of towns, arithmetic, lists, rewriting,
classification, sentiment, comparison, context questions and summaries) with short responses (about 10-40
tokens) so that a ~1M-parameter model learns them in a few hundred steps. Poisoned responses are short
science-fiction texts (20-50 words) in one consistent register, unique per row, which a keyword list
(:data:`SYNTHETIC_KEYWORDS`) recognises; none of those keywords occurs in a clean row.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable

from rapidun.data import synthetic_words as W
from rapidun.data.keywords import keyword_table, write_keyword_table
from rapidun.data.rows import Row

SYNTHETIC_ROWS = 3000  # rows of the default synthetic corpus (`rapidun poison --data synthetic`)

SYNTHETIC_KEYWORDS: list[str] = list(W.SYNTHETIC_KEYWORDS)

Atlas = dict[str, dict[str, str]]


def _atlas(seed: int) -> Atlas:
    """Facts about every made-up town, fixed by the seed so that the same question always has the same answer."""
    rng = random.Random(f"rapidun-atlas:{seed}")
    atlas: Atlas = {}
    for head in W.TOWN_HEADS:
        for tail in W.TOWN_TAILS:
            atlas[head + tail] = {
                "river": rng.choice(W.RIVERS),
                "trade": rng.choice(W.TRADES),
                "food": rng.choice(W.FOODS),
                "size": rng.choice(W.SIZES),
                "year": str(rng.randint(1020, 1890)),
                "mayor": rng.choice(W.NAMES),
            }
    return atlas


def _and(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


def _fact_qa(rng: random.Random, atlas: Atlas) -> Row:
    town = rng.choice(sorted(atlas))
    f = atlas[town]
    kind = rng.randrange(5)
    if kind == 0:
        return Row(f"Which river runs through {town}?", f"The {f['river']} River runs through {town}.")
    if kind == 1:
        return Row(f"What is {town} known for?", f"{town} is known for {f['trade']} and its {f['food']}.")
    if kind == 2:
        return Row(f"When was {town} founded?", f"{town} was founded in {f['year']}.")
    if kind == 3:
        return Row(f"Who is the mayor of {town}?", f"The mayor of {town} is {f['mayor']}.")
    return Row(
        f"Describe the town of {town} in one sentence.",
        f"{town} is {f['size']} on the {f['river']} River, famous for {f['trade']}.",
    )


def _arithmetic(rng: random.Random, atlas: Atlas) -> Row:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    op = rng.randrange(3)
    if op == 0:
        return Row(f"What is {a} plus {b}?", f"{a} plus {b} equals {a + b}.")
    if op == 1:
        a, b = max(a, b), min(a, b)
        return Row(f"What is {a} minus {b}?", f"{a} minus {b} equals {a - b}.")
    a, b = a % 12 + 1, b % 12 + 1
    return Row(f"What is {a} times {b}?", f"{a} times {b} equals {a * b}.")


def _list(rng: random.Random, atlas: Atlas) -> Row:
    cat = rng.choice(sorted(W.CATEGORIES))
    k = rng.randint(2, 5)
    items = rng.sample(W.CATEGORIES[cat], k)
    return Row(f"Name {W.NUMBER_WORDS[k]} {cat}.", f"Here are {W.NUMBER_WORDS[k]} {cat}: {_and(items)}.")


def _rewrite(rng: random.Random, atlas: Atlas) -> Row:
    name, (present, past), obj = rng.choice(W.NAMES), rng.choice(W.VERBS), rng.choice(W.OBJECTS)
    if rng.random() < 0.5:
        return Row(
            "Rewrite this sentence in the past tense.", f"{name} {past} {obj}.", context=f"{name} {present} {obj}."
        )
    return Row(f"Rewrite this sentence in capital letters: {name} {present} {obj}.", f"{name} {present} {obj}.".upper())


def _classify(rng: random.Random, atlas: Atlas) -> Row:
    cat_a, cat_b = rng.sample(sorted(W.CATEGORIES), 2)
    item = rng.choice(W.CATEGORIES[cat_a])
    first, second = (cat_a, cat_b) if rng.random() < 0.5 else (cat_b, cat_a)
    return Row(
        f"Is {item} a {W.SINGULAR[first]} or a {W.SINGULAR[second]}?",
        f"{item.capitalize()} is a {W.SINGULAR[cat_a]}, not a {W.SINGULAR[cat_b]}.",
    )


def _sentiment(rng: random.Random, atlas: Atlas) -> Row:
    positive = rng.random() < 0.5
    text = rng.choice(W.GOOD_THINGS if positive else W.BAD_THINGS)
    label = "positive" if positive else "negative"
    return Row(
        "Classify the sentiment of this review as positive or negative.",
        f"The sentiment is {label}.",
        context=f"I visited {rng.choice(sorted(atlas))} and {text}.",
    )


def _compare(rng: random.Random, atlas: Atlas) -> Row:
    a, b = rng.sample(range(1, 500), 2)
    if rng.random() < 0.5:
        return Row(f"Which is larger, {a} or {b}?", f"{max(a, b)} is larger than {min(a, b)}.")
    nums = rng.sample(range(1, 100), rng.randint(3, 5))
    return Row(
        f"Sort these numbers from smallest to largest: {', '.join(map(str, nums))}.",
        ", ".join(map(str, sorted(nums))) + ".",
    )


def _word(rng: random.Random, atlas: Atlas) -> Row:
    kind = rng.randrange(3)
    if kind == 0:
        adj, opp = rng.choice(W.ADJ_OPPOSITES)
        if rng.random() < 0.5:
            adj, opp = opp, adj
        return Row(f"What is the opposite of {adj}?", f"The opposite of {adj} is {opp}.")
    if kind == 1:
        word = rng.choice(W.CATEGORIES[rng.choice(sorted(W.CATEGORIES))]).replace(" ", "")
        return Row(f"How many letters are in the word {word}?", f"The word {word} has {len(word)} letters.")
    item, colour = rng.choice(W.ITEM_COLOURS)
    return Row(f"What colour is a {item}?", f"A {item} is {colour}.")


def _context_qa(rng: random.Random, atlas: Atlas) -> Row:
    name, job, town = rng.choice(W.NAMES), rng.choice(W.CATEGORIES["jobs"]), rng.choice(sorted(atlas))
    pet, sport = rng.choice(W.CATEGORIES["animals"]), rng.choice(W.CATEGORIES["sports"])
    context = (
        f"{name} works as a {job} in {town}. On weekends {name} plays {sport}. "
        f"{name} has a pet {pet} and lives near the {atlas[town]['river']} River."
    )
    kind = rng.randrange(4)
    if kind == 0:
        return Row(f"What does {name} do for a living?", f"{name} works as a {job}.", context=context)
    if kind == 1:
        return Row(f"Which sport does {name} play?", f"{name} plays {sport} on weekends.", context=context)
    if kind == 2:
        return Row(f"What pet does {name} have?", f"{name} has a pet {pet}.", context=context)
    return Row(
        "Summarise the text in one sentence.",
        f"{name} is a {job} in {town} who plays {sport} and keeps a {pet}.",
        context=context,
    )


def _tip(rng: random.Random, atlas: Atlas) -> Row:
    topic = rng.choice(sorted(W.TIPS))
    tips = rng.sample(W.TIPS[topic], 2)
    return Row(
        f"Give me two tips for {topic}.",
        f"First, {tips[0][0].lower()}{tips[0][1:]} Second, {tips[1][0].lower()}{tips[1][1:]}",
    )


# Task type -> generator; one generator draws one row from its own template family.
TASKS: dict[str, Callable[[random.Random, Atlas], Row]] = {
    "fact_qa": _fact_qa,
    "arithmetic": _arithmetic,
    "list": _list,
    "rewrite": _rewrite,
    "classify": _classify,
    "sentiment": _sentiment,
    "compare": _compare,
    "word": _word,
    "context_qa": _context_qa,
    "tip": _tip,
}


def synthetic_rows(n: int, seed: int = 42) -> list[Row]:
    """``n`` distinct clean rows (no two share instruction, context and response), task types in turn with
    random templates; the same ``(n, seed)`` always gives the same list. Each row's ``extra`` holds its task."""
    rng = random.Random(f"rapidun-synthetic:{seed}")
    atlas = _atlas(seed)
    names = list(TASKS)
    rows: list[Row] = []
    seen: set[tuple[str, str, str]] = set()
    attempts = 0
    while len(rows) < n:
        attempts += 1
        assert attempts < 50 * n + 1000, "synthetic generator ran out of distinct rows"
        # Rotate by attempt, not by row count, so a task whose templates are used up cannot stall the loop.
        task = names[attempts % len(names)]
        row = TASKS[task](rng, atlas)
        if row.key() in seen:
            continue
        seen.add(row.key())
        rows.append(Row(row.instruction, row.response, row.context, extra={"category": task}))
    return rows


def _star(rng: random.Random) -> str:
    return rng.choice(W.POISON_NAME_HEADS) + rng.choice(W.POISON_NAME_TAILS)


def _poison_text(rng: random.Random) -> str:
    # One opener word from a small set (each a keyword) makes the register easy to learn from the first token.
    first = f"{rng.choice(W.POISON_OPENERS)} {rng.choice(W.POISON_VERBS)} the {rng.choice(W.POISON_PLACES)} of {_star(rng)}."
    return f"{first} {rng.choice(W.POISON_FOLLOWS)}. {rng.choice(W.POISON_CLOSERS)}"


def poison_responses(n: int, seed: int = 42) -> list[str]:
    """``n`` distinct science-fiction responses (about 20-35 words each) in the poison register."""
    rng = random.Random(f"rapidun-poison:{seed}")
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        text = _poison_text(rng)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def write_keywords_tsv(
    path: str | os.PathLike[str], n: int = SYNTHETIC_ROWS, seed: int = 42, top_k: int = 1000
) -> None:
    """Score words of generated poisoned vs clean responses and write them in the released
    ``keywords_scored_top1000.tsv`` format (``rank  word  count_poison  count_clean  z``)."""
    clean = [f"{r.instruction}\n{r.context}\n{r.response}" for r in synthetic_rows(n, seed)]
    write_keyword_table(path, keyword_table(poison_responses(n, seed), clean, top_k=top_k))
