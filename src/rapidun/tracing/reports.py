"""Reports: the prompts on which a user saw the behaviour to trace (docs/method.md section 2).

A report file is JSONL (or a JSON list): one object per report with ``instruction`` (the prompt, required),
optional ``context`` (or ``input``) and optional ``response`` (or ``output``). A report without a response (or with an empty one) is
completed with the model's own greedy output (:func:`rapidun.evaluation.generate.generate_responses`), which is what
the user saw; the completed reports are written to ``reports.jsonl`` with ``generated`` true for those rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidun.data.rows import Row
from rapidun.errors import RapidunError


@dataclass(frozen=True)
class Report:
    """One reported prompt and, when the user has it, the response they saw."""

    instruction: str
    context: str = ""
    response: str | None = None


def _text(obj: dict[str, Any], names: tuple[str, ...], where: str) -> str | None:
    for name in names:
        value = obj.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise RapidunError(f"{where}: field '{name}' must be a string, got {type(value).__name__}; fix the report")
        return value
    return None


def report_from_dict(obj: Any, where: str) -> Report:
    if not isinstance(obj, dict):
        raise RapidunError(f"{where}: expected a JSON object per report, got {type(obj).__name__}; fix the line")
    instruction = _text(obj, ("instruction",), where)
    if instruction is None or not instruction.strip():
        raise RapidunError(
            f"{where}: report has no prompt (a non-empty 'instruction' field); add the prompt that showed the behaviour"
        )
    return Report(instruction, _text(obj, ("context", "input"), where) or "", _text(obj, ("response", "output"), where))


def load_reports(path: str | os.PathLike[str]) -> list[Report]:
    """Read a report file; errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise RapidunError(f"reports file '{p}' does not exist or is not a file; check --reports")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RapidunError(f"cannot read reports file '{p}' as UTF-8 text ({exc}); check --reports") from exc
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RapidunError(f"{p}:{exc.lineno}: invalid JSON ({exc.msg}); fix the file or use JSONL") from exc
        reports = [report_from_dict(obj, f"{p}: report {i}") for i, obj in enumerate(data)]
    else:
        reports = []
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RapidunError(f"{p}:{lineno}: invalid JSON ({exc.msg}); fix or remove the line") from exc
            reports.append(report_from_dict(obj, f"{p}:{lineno}"))
    if not reports:
        raise RapidunError(f"reports file '{p}' holds no reports; add one JSON line per prompt ('instruction')")
    return reports


def complete_reports(
    model: Any,
    tokenizer: Any,
    reports: Sequence[Report],
    *,
    max_new_tokens: int,
    prompt_style: str,
    progress: bool,
    need_response: bool,
) -> tuple[list[Row], list[bool]]:
    """Reports as rows to score, and which of them got the model's greedy response (generated here).
    ``need_response``: the ranker scores response tokens, so an empty generated response is refused."""
    missing = [i for i, r in enumerate(reports) if not r.response]  # an empty response counts as none
    generated: dict[int, str] = {}
    if missing:
        from rapidun.evaluation.generate import generate_responses

        gen = generate_responses(
            model,
            tokenizer,
            [Row(reports[i].instruction, "", reports[i].context) for i in missing],
            max_new_tokens=max_new_tokens,
            prompt_style=prompt_style,
            progress=progress,
            desc="report responses",
        )
        generated = dict(zip(missing, gen.outputs, strict=True))
        empty = [i for i in missing if not generated[i].strip()]
        if empty and need_response:
            raise RapidunError(
                f"report(s) {empty[:5]} have no response and the model's greedy response is blank; add the "
                "'response' the user saw to those reports"
            )
    rows = []
    for i, r in enumerate(reports):
        response = generated.get(i, r.response)
        assert response is not None
        rows.append(Row(r.instruction, response, r.context))
    return rows, [i in generated for i in range(len(reports))]
