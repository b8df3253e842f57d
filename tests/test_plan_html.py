"""The HTML plan: one self-contained file whose inline SVG charts headless Chromium really draws."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_plan import mission_report, real_report

from cfmigrate.generators.plan import build_plan, render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (Debian: apt-get install -y chromium); .ci/run installs it",
)

PROBE = """
<script>
(function () {
  var out = [];
  document.querySelectorAll("figure").forEach(function (fig) {
    var svg = fig.querySelector("svg");
    var box = svg.getBoundingClientRect();
    var bars = Array.prototype.filter.call(svg.querySelectorAll("rect"), function (r) {
      var b = r.getBBox(); return b.width > 0 && b.height > 0;
    });
    var line = svg.querySelector("polyline");
    var lineBox = line ? line.getBBox() : null;
    var texts = Array.prototype.filter.call(svg.querySelectorAll("text"), function (t) {
      var b = t.getBBox(); return b.width > 0 && b.height > 0;
    });
    out.push({id: fig.id, width: box.width, height: box.height, bars: bars.length,
              line: lineBox ? [lineBox.width, lineBox.height] : null, texts: texts.length});
  });
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def _chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={tmp / 'profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


def _probe(html: str, tmp: Path) -> list[dict[str, Any]]:
    # the page forbids scripts (CSP); the probe copy drops that meta tag and appends a measuring script
    probe_html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html).replace(
        "</body>", PROBE + "</body>"
    )
    page = tmp / "probe.html"
    page.write_text(probe_html, encoding="utf-8")
    done = _chromium(["--window-size=1100,1600", "--dump-dom", page.as_uri()], tmp)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, "the probe script did not run"
    data: list[dict[str, Any]] = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return data


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_html_is_self_contained() -> None:
    html = render_html(build_plan(real_report(), audit_source="`audit.json`"))
    assert html.startswith("<!doctype html>")
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=|url\(|@import""", html)
    # the only URL is the SVG namespace, which is a name, not a fetch
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "default-src 'none'" in html  # a browser refuses any load the page might attempt
    assert html.count("<svg") == 3
    for chart in ("chart-tokens", "chart-breakdown", "chart-savings"):
        assert f'id="{chart}"' in html


def test_html_escapes_names_from_the_repository() -> None:
    report = real_report()
    from dataclasses import replace

    evil = replace(report.agents[0], name='<img onerror="x">', reasons=("a <b> & c",))
    html = render_html(build_plan(replace(report, agents=(evil, *report.agents[1:])), audit_source="x"))
    assert '<img onerror="x">' not in html
    assert "&lt;img onerror=" in html and "a &lt;b&gt; &amp; c" in html


@needs_chromium
def test_chromium_draws_every_chart(tmp_path: Path) -> None:
    plan = build_plan(real_report(), audit_source="`audit.json`")
    html = render_html(plan)
    charts = {c["id"]: c for c in _probe(html, tmp_path)}
    assert set(charts) == {"chart-tokens", "chart-breakdown", "chart-savings"}
    for c in charts.values():
        assert c["width"] > 300 and c["height"] > 100, c
        assert c["texts"] > 3, c  # labels were laid out with real glyphs
    # tokens chart: a before and an after bar per agent (3 agents), plus the 2 legend swatches
    assert charts["chart-tokens"]["bars"] == 2 * len(plan.agents) + 2
    # breakdown: at least one segment per side
    assert charts["chart-breakdown"]["bars"] >= 2
    # savings: the curve spans the plot
    width, height = charts["chart-savings"]["line"]
    assert width > 500 and height > 20


@needs_chromium
def test_chromium_screenshot_of_the_plan(tmp_path: Path) -> None:
    html = render_html(
        build_plan(mission_report(), audit_source="`audit.json`", requests_per_day=1000, price=3.0)
    )
    page = tmp_path / "plan.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "plan.png"
    done = _chromium(["--window-size=1100,2400", f"--screenshot={shot}", page.as_uri()], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _png_size(shot) == (1100, 2400)
    # a blank page compresses to a few kB; charts, tables and text do not
    assert shot.stat().st_size > 60_000


@needs_chromium
def test_chromium_draws_the_seed_scenario_plan_written_by_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cfmigrate.migrate.cli import app

    seed = Path(__file__).resolve().parent.parent / "fixtures" / "seed-scenario"
    out = tmp_path / "plan.html"
    result = CliRunner().invoke(app, ["plan", str(seed), "--format", "html", "--output", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    charts = {c["id"]: c for c in _probe(html, tmp_path)}
    assert set(charts) == {"chart-tokens", "chart-breakdown", "chart-savings"}
    assert charts["chart-tokens"]["bars"] == 2 + 2  # one agent: before, after, two legend swatches
    assert all(c["width"] > 300 and c["height"] > 100 for c in charts.values())
    shot = tmp_path / "seed.png"
    done = _chromium(["--window-size=1100,2400", f"--screenshot={shot}", out.as_uri()], tmp_path)
    assert done.returncode == 0 and _png_size(shot) == (1100, 2400)
    assert shot.stat().st_size > 60_000
