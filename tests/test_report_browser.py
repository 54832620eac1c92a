"""The report in a real browser: headless Chromium loads it from disk (offline), every section
is there, the runs table sorts on a click, every image decodes, nothing is logged to the
console, and a screenshot is saved. Skipped, with the reason, where Chromium is not installed
(Debian: ``apt-get install chromium``)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fake_results import fake_study

from landscape.report import write_report

CHROMIUM = next(
    (
        p
        for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
        if p and os.access(p, os.X_OK)
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install -y chromium)"
)
SECTIONS = ["protocol", "leaderboard", "top5", "budget", "curves", "samples", "runs"]
PROBE = """<script>
window.addEventListener("load", function () {
  var table = document.querySelector("table[id^='runs-']");
  var th = table.tHead.rows[0].cells[2];
  function column() {
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return r.cells[2].getAttribute("data-v");
    });
  }
  th.click();
  var ascending = column();
  th.click();
  var out = {
    sections: Array.prototype.map.call(document.querySelectorAll("section[id]"),
                                       function (s) { return s.id; }),
    header: th.textContent, ascending: ascending, descending: column(),
    images: Array.prototype.map.call(document.images, function (i) { return i.naturalWidth; })
  };
  document.body.setAttribute("data-probe", JSON.stringify(out));
});
</script>
"""


def chromium(user_dir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={user_dir}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def console_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_report_in_headless_chromium(tmp_path):
    study = fake_study(tmp_path, "browser", grid=2, search=1, seeds=2, diverged=0.2, failed=0.1)
    report = write_report(study, expected_runs=40)
    probe = study / "probe.html"
    probe.write_text(report.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(tmp_path / "profile1", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_lines(dom.stderr) == []
    found = re.search(r'data-probe="([^"]*)"', dom.stdout)
    assert found, "the probe script did not run"
    out = json.loads(html.unescape(found.group(1)))
    assert [s for s in SECTIONS if s not in out["sections"]] == []
    assert out["header"].startswith("FID")
    for values, descending in ((out["ascending"], False), (out["descending"], True)):
        numbers = [float(v) for v in values if v]
        assert numbers == sorted(numbers, reverse=descending)
        assert all(not v for v in values[len(numbers) :])  # no score: last either way
        assert 0 < len(numbers) < len(values)
    assert out["images"] and all(width > 0 for width in out["images"])

    screenshot = tmp_path / "report.png"
    shot = chromium(
        tmp_path / "profile2",
        f"--screenshot={screenshot}",
        "--window-size=1280,2000",
        "--hide-scrollbars",
        report.as_uri(),
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert console_lines(shot.stderr) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 50_000  # a rendered page, not a blank one
    if os.environ.get("LANDSCAPE_ARTIFACTS"):  # CI may keep the screenshot for people to see
        target = Path(os.environ["LANDSCAPE_ARTIFACTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, target / "report-screenshot.png")
