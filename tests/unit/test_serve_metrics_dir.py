"""`togglemaster-serve` gives its workers one directory for their metrics, emptied of a
previous run's numbers, before anything reads PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from functions import serve


def test_share_metrics__no_directory_given__a_private_one_set_and_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given no PROMETHEUS_MULTIPROC_DIR
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    # When the server prepares its workers' metrics
    made = serve._share_metrics()
    # Then a new empty directory is set for them, to be removed on exit
    try:
        assert made is not None and os.environ["PROMETHEUS_MULTIPROC_DIR"] == made
        assert os.listdir(made) == []
    finally:
        os.rmdir(made or "")
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")


def test_share_metrics__directory_given__previous_numbers_removed_other_files_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a directory holding a previous run's files, and a file of someone else's
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "gauge_livesum_123.db").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("kept")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    # When the server prepares its workers' metrics
    made = serve._share_metrics()
    # Then the old numbers are gone, the rest is kept, and the directory stays
    assert made is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
