"""Outside text made safe: printable, shortened, Markdown-escaped."""

from ferviz.text import md_escape, printable


def test_printable_replaces_control_characters_and_shortens():
    assert printable("a\nb\x00c") == "a?b?c"
    assert printable("x" * 10, limit=6) == "xxx..."
    assert printable("short", limit=6) == "short"
    assert printable(3.5) == "3.5"


def test_md_escape_neutralises_markdown():
    assert md_escape("**bold** [x](javascript:alert(1))") == r"\*\*bold\*\* \[x\]\(javascript\:alert\(1\)\)"
    assert md_escape("a\nb\x00.jpg") == r"a\?b\?\.jpg"
    assert md_escape(ValueError("bad_file")) == r"bad\_file"
