"""Cleaning free text that people type, before it is stored, exported or drawn.

:func:`clean_text` is the one place that decides which characters of a free-text
answer survive. It is used by :mod:`surveys.answers` (every text answer, on the
server, before it is stored) and by :mod:`reports.diagram` (labels drawn into DOT
and SVG).

What is removed, and why
------------------------
* **C0 controls** (U+0000..U+001F except tab and newline) and DEL: terminal escape
  sequences (``ESC [31m``), NUL bytes that truncate strings in C libraries.
* **C1 controls** (U+0080..U+009F): U+009B is a one-character "CSI" that terminals
  read as ``ESC [``; the others have no place in typed text. U+0085 (NEXT LINE) is a
  line break and becomes one (see below).
* **Bidirectional controls**: embeddings and overrides U+202A..U+202E, isolates
  U+2066..U+2069, the marks U+200E/U+200F and U+061C. They reorder what a reader sees
  ("Trojan Source"): a comment can display as something other than what it holds,
  and an export cell can show a file name or a number reversed.
* **Zero-width and other invisible format characters** (Unicode category ``Cf``):
  U+200B, U+2060, U+FEFF, U+00AD, U+180E, U+2061..U+2064, U+206A..U+206F,
  U+FFF9..U+FFFB, and the rest of the category. They hide text from a search
  ("pass\\u200bword"), split words a reader sees as one, and can carry invisible
  payloads ("ASCII smuggling" with the tag characters U+E0000..U+E007F).
* **Hangul fillers** (U+115F, U+1160, U+3164, U+FFA0): letters that draw nothing,
  used for "invisible" text; lone surrogates and the non-characters U+FFFE/U+FFFF and
  U+FDD0..U+FDEF (they cannot be stored as UTF-8 or break parsers).
* More than :data:`MAX_MARKS` combining marks on one character ("Zalgo" text that
  draws over the lines around it) are cut to that many.

What is kept (a judgement, not an accident)
-------------------------------------------
* Tab and newline in long (multi-line) text; U+2028, U+2029 and U+0085 become a
  newline there. In one-line text every line break and tab becomes one space.
* Every letter, mark, number, punctuation, symbol and space of every script,
  including the no-break spaces (French typography) and the ideographic space.
* **Emoji sequences.** ZERO WIDTH JOINER (U+200D) is kept when it joins two emoji
  (👨‍👩‍👧, 🏳️‍🌈, 👩🏽‍💻: the character before it is a symbol, a skin-tone modifier or
  the emoji variation selector U+FE0F, and the one after it a symbol); the variation
  selectors U+FE00..U+FE0F are marks and always kept; the tag characters are kept
  only as the tail of a subdivision flag (U+1F3F4 followed by tags and the cancel tag
  U+E007F, e.g. the flag of Scotland). Removing the joiner would not be dangerous,
  but it would turn one family emoji into three people.
* **Joiners inside words of scripts that need them.** ZWJ and ZERO WIDTH NON-JOINER
  (U+200C) are kept between two letters or marks outside the Latin, Greek and Cyrillic
  blocks (from U+0590 on): Persian spelling needs ZWNJ ("می‌خواهم"), Indic scripts use
  both to choose conjunct forms. Anywhere else (between Latin letters, next to a space,
  at the start or end, or two in a row) they are removed.

The result is NFC-normalised, line breaks are ``\\n`` only, and surrounding whitespace
is stripped.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_MARKS", "clean_text"]

#: Most combining marks kept on one base character (Vietnamese uses two, Tibetan
#: stacks a handful; text with more is drawn over the lines around it).
MAX_MARKS = 8

ZWNJ, ZWJ = "\u200c", "\u200d"
_BLACK_FLAG = "\U0001f3f4"
_CANCEL_TAG = "\U000e007f"
_VS16 = "\ufe0f"

# Cf characters that are visible marks (Arabic number signs and the like): kept.
_VISIBLE_FORMAT = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2"
                            "\U000110bd\U000110cd")
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
_LINE_BREAKS = frozenset("\n\u2028\u2029\x85")

# A quick test for the common case: text with none of the characters that need a look.
_SUSPECT = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\ufff9-\ufffb\uffa0\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff"
    "\U000e0000-\U000e007f\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
)


def _is_emoji_side(ch: str) -> bool:
    """A character an emoji ZWJ sequence may have next to its joiner."""
    if ch == _VS16 or "\U0001f3fb" <= ch <= "\U0001f3ff":
        return True
    return unicodedata.category(ch) == "So"


def _is_joining_letter(ch: str) -> bool:
    """A letter or mark of a script that uses ZWJ/ZWNJ inside words (not Latin, Greek, Cyrillic)."""
    return ord(ch) >= 0x0590 and unicodedata.category(ch)[0] in "LM"


def _dropped(ch: str) -> bool:
    """Whether ``ch`` is removed wherever it stands (the joiners and tags are decided in context)."""
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return True
    if ch in _INVISIBLE_LETTERS:
        return True
    category = unicodedata.category(ch)
    if category == "Cf":
        return ch not in _VISIBLE_FORMAT
    if category == "Cs":  # a lone surrogate
        return True
    return category == "Cn" and (0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE)


def clean_text(value: str, *, multiline: bool = True) -> str:
    """``value`` with the characters described in the module docstring removed.

    Parameters
    ----------
    value
        The text as received.
    multiline
        ``True`` (a text area): keep newlines and tabs. ``False`` (a one-line field, a
        label): line breaks and tabs become single spaces.

    Returns
    -------
    str
        NFC-normalised, cleaned and stripped text (possibly empty).

    Examples
    --------
    >>> clean_text("Gr\\u00fc\\u00dfe\\u202e\\u2066 aus K\\u00f6ln \\U0001f600\\x9b31m")
    'Grüße aus Köln 😀31m'
    """
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    if not _SUSPECT.search(text):
        return text.strip()
    out: list[str] = []
    marks = 0
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch in _LINE_BREAKS:
            out.append("\n" if multiline else " ")
            marks = 0
        elif ch == "\t":
            out.append("\t" if multiline else " ")
            marks = 0
        elif ch in (ZWJ, ZWNJ):
            before = out[-1][-1] if out else ""
            after = text[i + 1] if i + 1 < n else ""
            if before and after and before not in (ZWJ, ZWNJ) and (
                    (ch == ZWJ and _is_emoji_side(before) and _is_emoji_side(after))
                    or (_is_joining_letter(before) and _is_joining_letter(after))):
                out.append(ch)
        elif ch == _BLACK_FLAG and i + 1 < n and "\U000e0020" <= text[i + 1] <= "\U000e007e":
            end = i + 1
            while end < n and "\U000e0020" <= text[end] <= "\U000e007e" and end - i <= 8:
                end += 1
            if end < n and text[end] == _CANCEL_TAG:  # a subdivision flag: keep it whole
                out.append(text[i:end + 1])
                i = end
            else:
                out.append(ch)  # the flag alone; the stray tags are dropped as they come
            marks = 0
        elif _dropped(ch):
            pass
        elif unicodedata.category(ch) in ("Mn", "Me"):
            marks += 1
            if marks <= MAX_MARKS:
                out.append(ch)
        else:
            out.append(ch)
            marks = 0
        i += 1
    return "".join(out).strip()
