"""The benchmark reads the app's pages from dashboard/app.py: it must find every one."""

from __future__ import annotations

from pathlib import Path

from benchmarks.pages import app_pages


def test_the_benchmark_finds_every_page_of_the_navigation_but_the_admin_one() -> None:
    pages = app_pages()
    everyone = {p.name for p in Path("pages").glob("*.py")} - {"audit_log.py"}
    assert {page.file for page in pages} == everyone
    assert (pages[0].file, pages[0].url_path) == ("overview.py", "")
    assert all(page.url_path == Path(page.file).stem for page in pages[1:])
