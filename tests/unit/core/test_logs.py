"""The JSON log lines every function writes."""

from __future__ import annotations

import json
import subprocess
import sys


def test_configure_logging__field_with_a_lone_surrogate__line_written_escaped() -> None:
    # Given a process logging a field that came from a request as JSON `"\ud800"`
    code = (
        "import logging\n"
        "from functions.core.logs import configure_logging\n"
        "configure_logging('analytics', 'INFO')\n"
        "logging.getLogger('t').info('delivery refused', extra={'event_id': '\\ud800x'})\n"
    )
    # When it writes the line to its standard output
    written = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    # Then the line is there, the surrogate escaped as JSON reads it back, and nothing
    # was reported as failed
    assert "\\ud800x" in written.stdout
    line = json.loads(written.stdout)
    assert line["message"] == "delivery refused"
    assert line["event_id"] == "\ud800x"
    assert "Logging error" not in written.stderr
