"""Write the command-line reference into pages from the argparse parser itself.

A page line ``<!-- byhand:cli train -->`` becomes the output of ``byhand train --help`` (``<!--
byhand:cli -->`` that of ``byhand --help``), formatted for an 88-column code block. The options
are typed once, in ``src/byhand/``; the page can never drift from them.
"""

import os
import re

MARKER = re.compile(r"^<!-- byhand:cli(?: (?P<command>[a-z-]+))? -->$", re.MULTILINE)
WIDTH = "88"


def _help(command):
    from byhand.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH  # argparse wraps to the terminal's width
    try:
        parser = build_parser()
        if command:
            parser = parser._subparsers._group_actions[0].choices[command]
        return parser.format_help().rstrip()
    finally:
        if previous is None:
            os.environ.pop("COLUMNS")
        else:
            os.environ["COLUMNS"] = previous


def on_page_markdown(markdown, page, config, files):
    return MARKER.sub(lambda m: f"```text\n{_help(m['command'])}\n```", markdown)
