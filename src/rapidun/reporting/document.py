"""A tiny document model rendered twice: to markdown (images as PNG files beside it) and to one self-contained
HTML file (the same PNGs as base64 data URIs), so both formats always carry the same content."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass

_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str  # plain text; `backticks` mark code


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    markdown: str
    html: str


@dataclass(frozen=True)
class Image:
    path: str  # relative to the markdown file
    png: bytes
    title: str
    caption: str


@dataclass(frozen=True)
class Note:
    text: str


@dataclass(frozen=True)
class Code:
    summary: str
    text: str


@dataclass(frozen=True)
class Example:
    """One prompt and each model's answer to it: ``answers`` = (model, backdoor fired?, answer text). The texts are
    model output and pack data: escaped in both formats, never interpreted."""

    title: str
    prompt: str
    answers: tuple[tuple[str, bool, str], ...]


Block = Heading | Para | Bullets | Table | Image | Note | Code | Example


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Table):
            out.append(b.markdown)
        elif isinstance(b, Image):
            out.append(f"![{b.title}]({b.path})\n\n*{b.caption}*")
        elif isinstance(b, Note):
            out.append(f"> **Note:** {b.text}")
        elif isinstance(b, Code):
            out.append(f"<details><summary>{b.summary}</summary>\n\n```\n{b.text}\n```\n\n</details>")
        elif isinstance(b, Example):
            out.append(_example_markdown(b))
    return "\n\n".join(out) + "\n"


def _md_cell(text: str) -> str:
    # Model output may hold markup or pipes: escaped as HTML entities (GitHub shows them as the characters).
    return html.escape(" ".join(text.split()) or "(empty)", quote=False).replace("|", "&#124;")


def _example_markdown(b: Example) -> str:
    fence = "~~~~" if "```" in b.prompt else "```"
    rows = [f"| {_md_cell(m)} | {'yes' if fired else 'no'} | {_md_cell(a)} |" for m, fired, a in b.answers]
    table = "\n".join(["| model | backdoor behaviour | answer (greedy) |", "|---|---|---|", *rows])
    return f"**{html.escape(b.title, quote=False)}**\n\n{fence}text\n{b.prompt}\n{fence}\n\n{table}"


def _example_html(b: Example) -> str:
    rows = "".join(
        f'<tr><td>{html.escape(m)}</td><td class="{"fired" if fired else "clean"}">{"yes" if fired else "no"}</td>'
        f'<td class="answer">{html.escape(a) or "<em>(empty)</em>"}</td></tr>'
        for m, fired, a in b.answers
    )
    return (
        f'<div class="example"><p><strong>{html.escape(b.title)}</strong></p><pre>{html.escape(b.prompt)}</pre>'
        '<table class="examples"><thead><tr><th>model</th><th>backdoor behaviour</th><th>answer (greedy)</th></tr>'
        f"</thead><tbody>{rows}</tbody></table></div>"
    )


def _inline(text: str) -> str:
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #0072B2;padding-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0;font-size:.9em;max-width:100%}th,td{border:1px solid #ccc;
padding:.3em .6em;overflow-wrap:break-word}table.settings{width:100%}table.settings td{overflow-wrap:anywhere}
table.settings td:first-child{white-space:nowrap;width:1%}th{background:#f3f6fa;vertical-align:bottom}th small{font-weight:normal;
color:#555}td.num{text-align:right;font-variant-numeric:tabular-nums}tbody tr:nth-child(even){background:#fafafa}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee;box-sizing:border-box}
figcaption{font-size:.9em;color:#444}.note{background:#fff8e1;border-left:4px solid #E69F00;padding:.4em .8em}
code{background:#f2f2f2;padding:0 .2em;border-radius:3px;overflow-wrap:anywhere}
pre{background:#f6f6f6;padding:.8em;white-space:pre-wrap;overflow-wrap:anywhere}.scroll{overflow-x:auto}
.example{margin:1.2em 0}.example pre{margin:.3em 0}table.examples{width:100%;table-layout:fixed}
table.examples th:first-child{width:16em}table.examples th:nth-child(2){width:6.5em}
table.examples td.answer{white-space:pre-wrap;overflow-wrap:anywhere;font-family:ui-monospace,monospace;font-size:.95em}
td.fired{color:#B00020;font-weight:bold}td.clean{color:#00695C}
"""


def to_html(blocks: list[Block], title: str) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
    ]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            out.append(f'<div class="scroll">{b.html}</div>')  # a last resort: the layout test checks none needs it
        elif isinstance(b, Image):
            data = base64.b64encode(b.png).decode("ascii")
            out.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(b.title, quote=True)}">'
                f"<figcaption>{_inline(b.caption)}</figcaption></figure>"
            )
        elif isinstance(b, Note):
            out.append(f'<p class="note"><strong>Note:</strong> {_inline(b.text)}</p>')
        elif isinstance(b, Code):
            out.append(
                f"<details><summary>{html.escape(b.summary)}</summary><pre>{html.escape(b.text)}</pre></details>"
            )
        elif isinstance(b, Example):
            out.append(_example_html(b))
    out.append("</body></html>")
    return "\n".join(out) + "\n"
