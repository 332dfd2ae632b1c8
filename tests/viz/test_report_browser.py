"""Open report.html in headless Chromium: sections render, the viewer runs, no JavaScript error.

Skips only when Chromium is not installed (Debian package ``chromium``; ``.ci/run`` installs it).
The screenshot is kept in the test's run folder (``report-screenshot.png``) for a human to look at.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from snnx.viz.report import report_command

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=5000"]
SECTIONS = ("summary", "viewer", "plots", "quant", "sim", "energy", "core_map", "config")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (apt-get install chromium); the HTML report is not browser-tested")


def browse(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def js_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "Uncaught" in line or ("CONSOLE" in line and "rror" in line)]


@pytest.fixture(scope="module")
def report(tiny_run: Path, mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report with every section filled: the tiny run after the real sim and deploy stages."""
    from snnx.deploy.stage import deploy_command
    from snnx.sim.stage import sim_command

    run = tmp_path_factory.mktemp("browser") / "run"
    shutil.copytree(tiny_run, run)
    mp = pytest.MonkeyPatch()
    mp.setattr("snnx.viz.plots.REPORT_SAMPLES", 100)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            sim_command(run, "fast", 200, None, None, mnist_dir)
            deploy_command(run, "loihi2", False, None, mnist_dir)
            return report_command(run, mnist_dir)
    finally:
        mp.undo()


def test_report_renders_in_chromium_without_javascript_errors(report: Path, tmp_path: Path) -> None:
    res = browse(report.resolve().as_uri() + "#sample=1&t=9", tmp_path / "profile", "--dump-dom")
    dom = res.stdout
    assert res.returncode == 0, res.stderr[-2000:]
    assert re.search(r'<html[^>]*data-report-ready="ok"', dom), "the viewer script did not finish"
    assert not re.search(r"<html[^>]*data-report-error", dom), "a JavaScript error was caught"
    assert not js_errors(res.stderr), js_errors(res.stderr)
    for key in SECTIONS:
        assert f'data-section="{key}"' in dom, key
    assert dom.count("<img ") == 9 and dom.count("data:image/png;base64,") == 9  # 8 + accuracy vs energy
    assert "not found: run" not in dom  # every stage ran, so no section is missing
    assert dom.count("<canvas") >= 5  # input, 2 layer rasters, input frame, membrane
    readout = re.search(r'id="viewer-readout"[^>]*>([^<]*)<', dom).group(1)
    assert readout.startswith("step 9, neuron ") and "float v = " in readout and "fixed point v = " in readout
    assert re.search(r'id="viewer-root" data-sample="1" data-step="9"', dom)
    assert "http://" not in report.read_text(encoding="utf-8").replace("http://www.w3.org", "")


def test_report_screenshot(report: Path, tmp_path: Path) -> None:
    shot = report.parent / "report-screenshot.png"
    res = browse(report.resolve().as_uri(), tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000")
    assert res.returncode == 0 and not js_errors(res.stderr), res.stderr[-2000:]
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
    print(f"screenshot: {shot}")
