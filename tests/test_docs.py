"""The README stays a front door, and no link in it or in docs/ points at a missing file."""

import glob
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
PAGES = [README] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
MAX_README_LINES = 250

# [text](target) and ![alt](target); a target's title ("...") and anchor (#...) are dropped.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def relative_links(path: str) -> list[str]:
    """The targets of a markdown file's links that name a file of the repository."""
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # Code blocks hold no links.
    text = re.sub(r"`[^`\n]*`", "", text)
    targets = [match.group(1) for match in LINK.finditer(text)]
    return [target.split("#", 1)[0] for target in targets
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")]


def test_the_readme_is_a_front_door_of_at_most_250_lines():
    lines = len(open(README, encoding="utf-8").read().splitlines())
    assert lines <= MAX_README_LINES, (
        f"README.md has {lines} lines, over {MAX_README_LINES}: move the detail to a page "
        "under docs/ and link to it")


@pytest.mark.parametrize("path", PAGES, ids=lambda path: os.path.relpath(path, REPO))
def test_every_relative_link_points_to_a_file_that_exists(path):
    missing = [target for target in relative_links(path)
               if not os.path.exists(os.path.join(os.path.dirname(path), target))]
    assert not missing, f"{os.path.relpath(path, REPO)} links to missing files: {missing}"


def test_the_link_check_sees_links_and_skips_urls_anchors_and_code(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[a](docs/a.md#part) ![b](img.png \"title\") [c](https://x.org/y.md) "
                    "[d](#here) `[e](e.md)`\n```\n[f](f.md)\n```\n")
    assert relative_links(str(page)) == ["docs/a.md", "img.png"]
