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


Block = Heading | Para | Bullets | Table | Image | Note | Code


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
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #0072B2;padding-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .6em}
th{background:#f3f6fa;vertical-align:bottom}th small{font-weight:normal;color:#555}td.num{text-align:right;
font-variant-numeric:tabular-nums;white-space:nowrap}tbody tr:nth-child(even){background:#fafafa}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#444}.note{background:#fff8e1;border-left:4px solid #E69F00;padding:.4em .8em}
code{background:#f2f2f2;padding:0 .2em;border-radius:3px}pre{background:#f6f6f6;padding:.8em;overflow-x:auto}.scroll{overflow-x:auto}
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
            out.append(f'<div class="scroll">{b.html}</div>')  # wide tables scroll instead of breaking the page
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
    out.append("</body></html>")
    return "\n".join(out) + "\n"
