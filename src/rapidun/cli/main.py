"""``rapidun`` entry point: dispatches to one module per subcommand.

Every subcommand module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. A
:class:`~rapidun.errors.RapidunError` becomes one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import re
import sys
from collections.abc import Sequence

import rapidun  # noqa: F401  (sets OMP_WAIT_POLICY before torch is imported)
from rapidun.api.console import hide_hub_progress_bars, progress_wanted, quiet_third_party
from rapidun.errors import RapidunError

# Subcommand name -> module under rapidun.cli. Imported lazily so that `rapidun --help` does not load torch.
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "poison": "poison",
    "train": "train",
    "evaluate": "evaluate",
    "influence": "influence",
    "weights": "weights",
    "unlearn": "unlearn",
    "study": "study",
    "report": "report",
    "trace": "trace",
    "facts": "facts",
    "relearn": "relearn",
    "plan": "plan",
}

_HELP: dict[str, str] = {
    "demo": "run the whole RapidUn experiment on embedded data and write a report",
    "poison": "build a backdoor data pack (train/val/test/forget/retain) from synthetic or given data",
    "train": "fine-tune a model (full or LoRA), e.g. to implant a backdoor or as the retraining reference",
    "evaluate": "attack success rate on seen/OOD triggers, false-trigger rate and clean perplexity",
    "influence": "RapidIn-style influence of forget/retain rows on each other (FF, FR, RF, RR)",
    "weights": "map influence scores to bounded, mean-one per-sample weights",
    "unlearn": "train a LoRA adapter that unlearns the forget set (rapidun or a baseline method)",
    "study": "run a grid of methods x seeds x datasets x sweeps from a YAML config, resumable",
    "report": "render (and compare) run directories as report.html / report.md",
    "trace": "find the training rows behind reported misbehaviour (influence, bm25, embedding or random ranking)",
    "facts": "build a TOFU-style knowledge pack of fictitious people (facts and private data to forget)",
    "relearn": "relearning check: fine-tune the unlearned model briefly on forget rows and report the recovery",
    "plan": "parameter count, predicted peak memory and time per stage of a model config (no weights loaded)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rapidun", description="Influence-guided unlearning of LLMs (RapidUn).")
    parser.add_argument("--version", action="version", version=f"rapidun {rapidun.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        sub.add_parser(name, help=_HELP[name], add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Parse global flags and the command name first; the command's own parser is built only for that command.
    # -q/-v are global flags; accept them after the command name too (`rapidun poison -q ...`).
    flags = {"-q", "--quiet", "-v", "--verbose"}
    argv = [a for a in argv if a in flags] + [a for a in argv if a not in flags]
    known, rest = parser.parse_known_args(argv)
    if known.command is None:
        parser.print_help()
        return 0
    logging.basicConfig(
        level=logging.DEBUG if known.verbose else logging.WARNING if known.quiet else logging.INFO,
        format="%(message)s",
    )
    # matplotlib's font search (hundreds of debug lines under -v) and transformers / peft deprecation notices about
    # their own internals are noise for our users.
    quiet_third_party()
    module = importlib.import_module(f"rapidun.cli.{COMMANDS[known.command]}")
    sub = argparse.ArgumentParser(prog=f"rapidun {known.command}", description=_HELP[known.command])
    module.add_arguments(sub)
    if any(action.dest == "no_progress" for action in sub._actions):
        sub.add_argument(
            "--progress",
            action="store_true",
            help="show progress bars even when stderr is not a terminal (default: only on a terminal)",
        )
    args = sub.parse_args(rest)
    if hasattr(args, "no_progress"):  # bars only on a terminal, unless --progress / --no-progress / -q say otherwise
        asked = False if args.no_progress or known.quiet else True if args.progress else None
        args.no_progress = not progress_wanted(asked)
    if known.quiet or getattr(args, "no_progress", False):  # no Hugging Face bars either ("Loading weights")
        hide_hub_progress_bars()
    try:
        return int(module.run(args) or 0)
    except RapidunError as exc:
        print(f"rapidun {known.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"rapidun {known.command}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as exc:
        why = _write_failure(exc)
        if why is None:
            raise
        # The stage's manifest is written last, so what was left is never taken for a finished output.
        print(
            f"rapidun {known.command}: error: cannot write the output: {why}; free disk space or choose a writable "
            "--out, then run the same command again",
            file=sys.stderr,
        )
        return 2


# A full disk, a file-size or quota limit, a read-only file system: the user's environment, not a bug.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS}


def _write_failure(exc: BaseException) -> str | None:
    """One line describing a failed write (an ``OSError``, or safetensors' error wrapping one), else None."""
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
        return f"{exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
    match = re.search(r"I/O error: (.+?) \(os error (\d+)\)", str(exc))
    if type(exc).__name__ == "SafetensorError" and match and int(match.group(2)) in _WRITE_ERRNOS:
        return match.group(1)
    return None


if __name__ == "__main__":
    sys.exit(main())
