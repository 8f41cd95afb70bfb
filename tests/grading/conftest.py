"""Starts the nbgrader run of the planted submissions (grading_run.py) in the background as soon
as the session has collected the test that checks it, so that it overlaps the other tests."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from grading_run import GRADING, TEST_NAME, start_grading  # noqa: E402


def pytest_collection_modifyitems(session, config, items):
    if any(item.name == TEST_NAME for item in items):
        config.stash[GRADING] = start_grading()
