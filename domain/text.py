"""What people may write: one policy for names, titles, device names, messages, references.

Text is NFC-normalised, then held to rules that stop spoofing without refusing real writing:

- no bidirectional embeddings, overrides or isolates (U+202A..U+202E, U+2066..U+2069): they
  reorder what follows, so `invoice<RLO>fdp.exe` shows as `invoiceexe.pdf` (Trojan Source,
  CVE-2021-42574); the plain marks LRM, RLM and ALM stay allowed;
- at most `MAX_MARKS_IN_A_ROW` combining marks on one character ("Zalgo" text spills over
  neighbouring lines); real scripts (Vietnamese, Hebrew with points, Devanagari) need fewer;
- in names, titles and device names (one rule: `DisplayName`), no invisible characters
  except the joiners that writing needs: ZWNJ (Persian, Hindi) and ZWJ (emoji sequences such
  as 👩‍💻, Indic conjuncts), each only between two visible characters, and the tag characters
  of a subdivision flag (🏴 + tags);
- references (avatars, group photos) are opaque keys or http(s) URLs, never `javascript:`,
  `data:` or any other scheme.

A message's text is at most `MAX_MESSAGE_BYTES` (4096) bytes of UTF-8, counted after NFC
normalisation: the one length rule, checked once, by `clean_message_text` (bytes, because bytes
are what a message costs to store, relay, index and send). The request schemas state the same
constant as the JSON Schema `maxLength` of `text`, which counts characters of the raw text,
and pydantic checks it first: a raw text over 4096 characters gets 422 `string_too_long`; one
within it but over 4096 bytes gets 422 `rule` from the domain. As a character is at least one
byte, the schema's bound refuses nothing the byte rule would accept, except text that NFC
composes into fewer characters (a letter and two combining marks into one precomposed letter).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from domain.errors import DisallowedText, InvalidCommand, UnsafeReference

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
DIRECTION_MARKS = frozenset("\u200e\u200f\u061c")  # LRM, RLM, ALM: no reordering
ZWNJ, ZWJ = "\u200c", "\u200d"
BLACK_FLAG = "\U0001f3f4"
TAGS = range(0xE0020, 0xE0080)
MAX_MARKS_IN_A_ROW = 6
COMBINING = frozenset({"Mn", "Me"})
NEVER_IN_NAMES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
WEB_SCHEMES = frozenset({"http", "https"})


def clean_message_characters(text: str, field: str = "text") -> str:
    """A message's text, NFC-normalised: newlines and tabs, but no other control character,
    no bidirectional control and no pile of combining marks."""
    for ch in text:
        if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cs"):
            raise DisallowedText(field, "a message may not contain control characters")
    normalised = unicodedata.normalize("NFC", text)
    _refuse_bidi_controls(normalised, field)
    _refuse_piled_marks(normalised, field)
    return normalised


@dataclass(frozen=True)
class DisplayName:
    """The one rule for what people call things (a person's name, a group's title, a device's
    name), each an instance with its own words, input field and length: NFC-normalised, runs
    of white space made one space, held to the policy above, then 1 to `max_length`
    characters (code points, counted after cleaning)."""

    what: str  # "name", "title", "device name": how the errors call it
    field: str  # the input at fault
    max_length: int

    def clean(self, text: str) -> str:
        stripped = " ".join(unicodedata.normalize("NFC", text).split())
        _refuse_bidi_controls(stripped, self.field)
        _refuse_piled_marks(stripped, self.field)
        for index, ch in enumerate(stripped):
            if not _visible_or_needed(stripped, index):
                raise DisallowedText(self.field, f"a {self.what} may not contain control or "
                                                 f"invisible characters (U+{ord(ch):04X})")
        if not stripped or len(stripped) > self.max_length:
            raise InvalidCommand(self.field,
                                 f"a {self.what} is 1 to {self.max_length} characters")
        return stripped


def clean_reference(reference: str, field: str, what: str) -> str:
    """An opaque key (such as a blob key) or an http(s) URL with a host; no other scheme."""
    if any(not ch.isprintable() or ch.isspace() or ch == "\\" for ch in reference):
        raise UnsafeReference(field, f"a {what} has no spaces, backslashes or control "
                                     "characters")
    scheme = SCHEME.match(reference)
    if reference.startswith("//") or (
            scheme is not None and (scheme.group(1).lower() not in WEB_SCHEMES
                                    or not urlsplit(reference).netloc)):
        raise UnsafeReference(field, f"a {what} is an opaque key or an http(s) URL")
    return reference


def _refuse_bidi_controls(text: str, field: str) -> None:
    if any(ch in BIDI_CONTROLS for ch in text):
        raise DisallowedText(field, "bidirectional embeddings, overrides and isolates "
                                    "(U+202A-U+202E, U+2066-U+2069) are not allowed")


def _refuse_piled_marks(text: str, field: str) -> None:
    in_a_row = 0
    for ch in text:
        in_a_row = in_a_row + 1 if unicodedata.category(ch) in COMBINING else 0
        if in_a_row > MAX_MARKS_IN_A_ROW:
            raise DisallowedText(field, f"at most {MAX_MARKS_IN_A_ROW} combining marks may "
                                        "follow one character")


def _visible_or_needed(text: str, index: int) -> bool:
    ch = text[index]
    category = unicodedata.category(ch)
    if category in NEVER_IN_NAMES:
        return False
    if ch == " " or (category != "Cf" and ch.isprintable()):
        return True
    if ch in DIRECTION_MARKS:
        return True
    if ch in (ZWJ, ZWNJ):
        return 0 < index < len(text) - 1 and _is_visible(text[index - 1]) \
            and _is_visible(text[index + 1])
    if ord(ch) in TAGS:
        before = text[index - 1] if index else ""
        return before == BLACK_FLAG or (before != "" and ord(before) in TAGS)
    return False


def _is_visible(ch: str) -> bool:
    return not ch.isspace() and unicodedata.category(ch) != "Cf"
