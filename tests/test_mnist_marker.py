"""The ``mnist`` marker: a test needing real MNIST skips with a reason, but fails under CI=true."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

NEEDS_MNIST = """
def test_needs_data(mnist_dir):
    assert mnist_dir.is_dir()

def test_needs_nothing():
    pass
"""


@pytest.mark.parametrize(("ci", "outcome"), [("true", {"errors": 1}), ("", {"skipped": 1})])
def test_missing_mnist_fails_only_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, outcome: dict[str, int]
) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(NEEDS_MNIST)
    monkeypatch.delenv("SNNX_DATA_DIR", raising=False)
    monkeypatch.setenv("CI", ci)
    result = pytester.runpytest_inprocess("-rsE")
    result.assert_outcomes(passed=1, **outcome)
    result.stdout.fnmatch_lines(["*real MNIST not found: set SNNX_DATA_DIR*"])


def test_mnist_tests_are_marked(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(NEEDS_MNIST)
    monkeypatch.delenv("SNNX_DATA_DIR", raising=False)
    result = pytester.runpytest_inprocess("-m", "not mnist")
    result.assert_outcomes(passed=1, deselected=1)
