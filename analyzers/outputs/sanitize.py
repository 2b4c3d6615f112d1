"""Make text from a trace safe to show on a terminal.

Span names, labels, task names, paths and error messages come from the traced program and may
contain anything: terminal escape sequences (which can retitle the window, move the cursor,
hide text), carriage returns that overwrite a line, or bidirectional overrides that reorder
it. `clean()` shows every such character as a visible escape instead. Rich markup is the other
half: render trace text through `rich.text.Text` (never a markup string), which `clean()`
does not need to touch.
"""

from __future__ import annotations

import unicodedata

# C0 controls, DEL, C1 controls, and the bidirectional embedding/override/isolate characters.
_UNSAFE = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F),
           *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
_TABLE = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _UNSAFE}
_TABLE[ord("\n")] = "\\n"
_TABLE[ord("\t")] = "\\t"
_TABLE[ord("\r")] = "\\r"


def clean(text: object, *, limit: int | None = None) -> str:
    """`text` as a single line with every control character shown as an escape."""
    if text is None:
        return ""
    out = str(text)
    if limit is not None and len(out) > limit:
        out = out[: limit + 1]  # escapes only lengthen it: cut first, 200 MB labels happen
    out = out.translate(_TABLE)
    if any(unicodedata.category(ch) == "Cf" for ch in out if ord(ch) > 0x7F):
        # Other invisible format characters (zero-width joiners etc.) are harmless but
        # confusing in paths and names; show them too.
        out = "".join(
            f"\\u{ord(ch):04x}" if ord(ch) > 0x7F and unicodedata.category(ch) == "Cf" else ch
            for ch in out
        )
    if limit is not None and len(out) > limit:
        out = out[: max(0, limit - 1)] + "…"
    return out
