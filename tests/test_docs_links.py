"""Every relative link in README.md and docs/*.md resolves, so moving or renaming a document or a heading fails here.

Links are Markdown inline links and images (`[text](target)`) and reference definitions (`[label]: target`),
outside code (fenced blocks, Mermaid diagrams included, and inline code spans). External targets (with a scheme,
e.g. https: or mailto:) are not fetched. A `#fragment` must name a heading of the target file, slugged the way
GitHub slugs headings. docs/configuration.md is generated from the config models by its own tool: while it is
absent, links to it are not counted as broken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "docs" / "configuration.md"

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class Link:
    source: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{_shown(self.source)}:{self.line}: ({self.target})"


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _prose_lines(text: str, *, code: str = "drop") -> list[tuple[int, str]]:
    """(line number, line) of everything outside fenced code blocks; inline code spans dropped (`code="drop"`,
    for links: a link inside code is no link) or reduced to their text (`code="text"`, for headings)."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            keep = (lambda span: span.group(0).strip("`")) if code == "text" else ""
            lines.append((number, _CODE_SPAN.sub(keep, line)))
    return lines


def links(path: Path) -> list[Link]:
    found = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        targets = _INLINE_LINK.findall(line)
        reference = _REFERENCE.match(line)
        if reference:
            targets.append(reference.group(1))
        found += [Link(path, number, target) for target in targets]
    return found


_HTML_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: link syntax reduced to its text, lower case, punctuation other than
    hyphens and underscores dropped, each space a hyphen (runs are not collapsed)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The heading anchors of a Markdown file (a repeated heading gets -1, -2, ... as on GitHub), and the explicit
    `<a id="...">` / `<a name="...">` anchors GitHub keeps."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(path.read_text(encoding="utf-8"), code="text"):
        found.update(_HTML_ANCHOR.findall(line))
        heading = _HEADING.match(line)
        if not heading:
            continue
        slug = github_slug(heading.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def problem(link: Link) -> str | None:
    """Why `link` does not resolve, or None when it does (or points outside the repository's files)."""
    if _SCHEME.match(link.target) or link.target.startswith("//"):
        return None
    file_part, _, fragment = link.target.partition("#")
    target = (link.source.parent / file_part).resolve() if file_part else link.source
    if target == GENERATED and not target.exists():
        return None
    if not target.exists():
        return f"{_shown(target)} does not exist"
    if fragment and target.suffix == ".md" and fragment not in anchors(target):
        return f"no heading with anchor #{fragment} in {_shown(target)}"
    return None


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("document", documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    broken = [f"{link} -> {reason}" for link in links(document) if (reason := problem(link))]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_readme_leads_to_every_document_under_docs() -> None:
    linked = {(ROOT / link.target.partition("#")[0]).resolve() for link in links(ROOT / "README.md")}
    unlinked = [str(path.relative_to(ROOT)) for path in documents()[1:] if path not in linked]
    assert not unlinked, f"README.md links to none of: {', '.join(unlinked)}"


def test_the_check_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    """The checker itself: a link to a file that is not there, and one to a heading that is not there, are both
    reported; code, external links and a heading that exists (GitHub's slug of it) are not."""
    page = ROOT / "docs" / "architecture.md"
    source = tmp_path / "page.md"
    source.write_text(
        "# A `code` heading: with punctuation!\n"
        f"[ok]({page}#security-and-compliance) [gone](missing.md) [anchor]({page}#no-such-heading)\n"
        "[self](#a-code-heading-with-punctuation) [web](https://example.com/x.md) `[code](missing.md)`\n"
        "```\n[fenced](missing.md)\n```\n"
        "[ref]: also-missing.md\n",
        encoding="utf-8",
    )
    reported = {link.target: problem(link) for link in links(source)}
    assert set(reported) == {
        f"{page}#security-and-compliance",
        "missing.md",
        f"{page}#no-such-heading",
        "#a-code-heading-with-punctuation",
        "https://example.com/x.md",
        "also-missing.md",
    }
    assert reported[f"{page}#security-and-compliance"] is None
    assert reported["#a-code-heading-with-punctuation"] is None
    assert reported["https://example.com/x.md"] is None
    assert "does not exist" in str(reported["missing.md"])
    assert "does not exist" in str(reported["also-missing.md"])
    assert "#no-such-heading" in str(reported[f"{page}#no-such-heading"])
