"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def q2_quick(tmp_path_factory):
    """One uninterrupted quick Q2 run for the whole session: (results root, SectionResult).

    test_q2_section reads it, and test_checkpoints_verified compares killed runs with it (on
    copies when a test changes files). A test that deletes files of it must restore them (the
    rebuild test does, by rebuilding)."""
    from rnnlab.experiments.runner import run_section

    root = tmp_path_factory.mktemp("q2_quick")
    result = run_section("q2", root, profile="quick", seed=0, device="cpu", progress=False, notebook=False)
    return root, result
