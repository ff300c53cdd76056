"""The hostile text every fuzzer sends (API bodies, query strings and paths, leak
reports, dashboard forms, stored headers), by class: one corpus, so a value added
for one input reaches them all.

The classes are what broke or could break storing text: what the database cannot
hold at all, what grows past a column once lower-cased or normalised (the review's
"İ" * 300 + "@example.com", 600 characters once lowered), what reads differently
than it is, what a terminal or a log line would act on, what is too long, and the
numbers and dates forms parse.
"""

from __future__ import annotations

CLASSES: dict[str, tuple[str, ...]] = {
    "unstorable": ("\x00", "a\x00b", "\ud800", "a\udfffb"),
    "grows when case-mapped": (
        "İ" * 300 + "@example.com",
        "İ" * 150,
        "ß" * 200,
        "ŉ" * 200,  # two characters once upper-cased
    ),
    # NFC itself grows these: U+FB2C is three code points once normalised, U+0958 two.
    "grows when normalised": ("\ufb2c" * 100, "\u0958" * 150),
    "ligatures": ("ﬃ" * 100, "ﬀ@example.com"),
    "combining marks": ("e" + "\u0301" * 500, "Z\u0364\u0351\u0313\u0324\u0354", "\u0301x"),
    "bidirectional": (
        "\u202eevil\u202c",
        "\u202eevil\u202c@example.com",
        "\u2066x\u2069",
        "\u2067\u05d0\u2069",
        "\u200fa\u061c",
    ),
    "emoji and astral": (
        "\U0001f600" * 60,
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # one family, three people
        "\U0001f1eb\U0001f1f7",  # a flag: two regional indicators
        "\U0001d400\U00010000\U0010ffff",
    ),
    "line breaks and controls": (
        "\r\n",
        "a\rb",
        "a\u0085b",
        "a\u2028b",
        "\t",
        "\x1b[31mred",
        "\x1b]8;;http://x\x07link",
        "\x7f\x9b",
    ),
    "invisible and spaces": ("", " ", "\u3000" * 50, "\ufeffBOM", "\u200b", "\u00a0"),
    "length": ("x" * 10_000, "é" * 300),
    "numbers and dates": (
        "²",
        "٣",
        "-1",
        "0",
        "99999999999999999999",
        "1e3",
        "9999-12-31",
        "0001-01-01",
        "%",
    ),
}

HOSTILE: list[str] = [value for values in CLASSES.values() for value in values]

# What may arrive in a header on the wire: any byte but controls (tab aside). Bytes
# from 0x80 up are obs-text, which servers (h11, httptools) pass on; Starlette reads
# them as Latin-1, so UTF-8 "İ" arrives as two characters.
_HEADER_CONTROLS = frozenset(range(0x20)) - {0x09} | {0x7F}


def in_header(value: str) -> bytes | None:
    """`value` as a client can send it in a header (UTF-8, lone surrogates as their
    bytes), or None when no server would take it (controls, line breaks, NUL)."""
    raw = value.encode("utf-8", "surrogatepass").strip(b" \t")
    if not raw or any(byte in _HEADER_CONTROLS for byte in raw):
        return None
    return raw


HEADER_VALUES: list[bytes] = [raw for raw in map(in_header, HOSTILE) if raw is not None]


def share(field: int, fields: int) -> list[str]:
    """The values field number `field` of a form of `fields` fields is sent: of each
    class, the values `field`, `field + fields`, ...; the first when the class has
    fewer values than the form fields. Every field meets every class, and the form's
    fields together meet every value (the first field each class's first value: the
    review's instances)."""
    return [
        value
        for values in CLASSES.values()
        for value in values[field % fields :: fields] or [values[field % len(values)]]
    ]
