"""Make text from a trace safe to show: control characters become visible, nothing is markup.

Span names, labels, paths and error messages come from the traced program and may contain
anything: Rich markup (`[bold]`, `[link=...]`) or terminal escape sequences. The TUI never
builds markup strings from them (it builds `Text` and `Segment` objects, which Rich does not
parse), and every such string passes through `clean()` first, which shows control characters
as visible escapes so that an escape sequence is shown literally instead of acted on.
"""

from __future__ import annotations

from racetrace.analyzers.outputs.sanitize import clean as _clean
from rich.cells import cell_len


def clean(text: object, *, multiline: bool = False) -> str:
    """`text` as a plain string with every control character shown as a visible escape.

    The same rendering as the text report (`analyzers.sanitize`), so `\\x1b[31m` reads the
    same in both. With `multiline`, newlines are kept (for error messages shown as a block);
    otherwise they show as `\\n` so that one value always takes one line.
    """
    if text is None:
        return ""
    if multiline:
        return "\n".join(_clean(line) for line in str(text).split("\n"))
    return _clean(text)


def shorten(text: str, width: int, *, keep: str = "start") -> str:
    """`text` cut to `width` terminal cells with an ellipsis; `keep` says which part survives.

    Instance keys end in their serial (the part that tells two instances apart), so they are
    shortened in the middle; labels keep their start, paths their end.
    """
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    if width == 1:
        return "…"
    if keep == "end":
        return "…" + _take_cells(text, width - 1, from_end=True)
    if keep == "middle":
        head = (width - 1) // 2
        return (
            _take_cells(text, head) + "…" + _take_cells(text, width - 1 - head, from_end=True)
        )
    return _take_cells(text, width - 1) + "…"


def _take_cells(text: str, cells: int, *, from_end: bool = False) -> str:
    """The longest start (or end) of `text` that fits in `cells` (wide characters count 2)."""
    chars = reversed(text) if from_end else iter(text)
    taken: list[str] = []
    used = 0
    for char in chars:
        width = cell_len(char)
        if used + width > cells:
            break
        taken.append(char)
        used += width
    if from_end:
        taken.reverse()
    return "".join(taken)
