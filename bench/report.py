"""The report: JSON (everything measured), Markdown (the table and the details) and a PNG latency plot
drawn with Pillow (percentile curves of the server and its ceiling, one panel per benchmark)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from ._context import Result

PLOTTED = ("inbox_ingest", "fanout", "home_timeline", "posting")
COLOURS = {"server": (200, 60, 40), "ceiling": (40, 90, 190)}
OTHER_COLOUR = (230, 140, 20)
PANEL_W, PANEL_H = 700, 460
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 80, 20, 50, 60


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")


# ---- Markdown -----------------------------------------------------------------------------------
def _number(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        out.append((prefix, ", ".join(_number(v) for v in value)))
    elif isinstance(value, list):
        if value:
            out.append((prefix, "; ".join(str(v)[:200] for v in value)))
    else:
        out.append((prefix, _number(value)))


def table(results: Sequence[Result]) -> list[str]:
    lines = [
        "| benchmark | figure | ceiling (same run) | ratio | goals |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        goals = "<br>".join(f"{'met' if g.met else '**missed**'}: {g.text} — {g.detail}" for g in r.goals) or "—"
        if r.error:
            goals = f"**error**: {r.error}"
        lines.append(
            f"| {r.title} | {_number(r.figure)} {r.unit} | {_number(r.ceiling)} | {r.ratio:.2f} ({r.ratio_meaning}) "
            f"| {goals} |"
        )
    return lines


def _background(report: dict[str, Any]) -> str:
    cpu = report.get("cpu_during_benchmarks")
    if not cpu:
        return "CPU accounting: not available."
    ours = sum(v for k, v in cpu.items() if k.endswith("_cpu_s") and not k.startswith("other"))
    return (
        f"CPU during the benchmarks ({cpu['wall_s']:.0f} s, machine {cpu['machine_busy_pct']:.0f} % busy): "
        f"server {cpu['server_cpu_s']:.1f} s, PostgreSQL {cpu['postgres_cpu_s']:.1f} s, load generator "
        f"{cpu['load_generator_cpu_s']:.1f} s, ceiling app {cpu['ceiling_app_cpu_s']:.1f} s, peers "
        f"{cpu['peers_cpu_s']:.1f} s; other processes on the machine {cpu['other_processes_cpu_s']:.1f} s "
        f"(ours {ours:.1f} s). Figures are only comparable between runs with little 'other' CPU."
    )


def markdown(report: dict[str, Any], results: Sequence[Result], plot_name: str) -> str:
    machine = report["machine"]
    lines = [
        f"# fediverse_biz benchmarks ({report['mode']})",
        "",
        f"Command: `{report['command']}` — started {report['started_at']}, took {report['duration_s']:.0f} s.",
        "",
        f"Machine: {machine['cpu']} ({machine['cores']} cores), {machine['memory_gb']} GB RAM, "
        f"{machine['kernel']}, Python {machine['python']}, PostgreSQL {machine.get('postgres', '?')} (embedded).",
        "",
        f"Code: commit {report['source']['commit']}"
        + (f" plus {report['source']['uncommitted_paths']} uncommitted paths in the working tree"
           if report["source"]["uncommitted_paths"] else "") + ".",
        "",
        f"Server: `{report['server_launcher']}` with `{report['server_env']}`",
        "",
        _background(report),
        "",
        *table(results),
        "",
        f"![latency percentiles]({plot_name})",
        "",
    ]
    for r in results:
        lines += [f"## {r.title}", ""]
        if r.error:
            lines += [f"**error**: `{r.error}`", ""]
        for goal in r.goals:
            lines.append(f"- {'met' if goal.met else '**missed**'}: {goal.text} — {goal.detail}")
        flat: list[tuple[str, str]] = []
        _flatten("", r.metrics, flat)
        if flat:
            lines += ["", "| metric | value |", "| --- | --- |"]
            lines += [f"| {key} | {value} |" for key, value in flat]
        for note in r.notes:
            lines += ["", f"Note: {note}"]
        lines.append("")
    return "\n".join(lines)


# ---- PNG ----------------------------------------------------------------------------------------
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _log_ticks(low: float, high: float) -> list[float]:
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0**exponent
            if low <= value <= high:
                ticks.append(value)
    return ticks


def _panel(draw: ImageDraw.ImageDraw, x0: int, y0: int, title: str, curves: dict[str, list[list[float]]]) -> None:
    font, small = _font(16), _font(12)
    left, top = x0 + MARGIN_L, y0 + MARGIN_T
    right, bottom = x0 + PANEL_W - MARGIN_R, y0 + PANEL_H - MARGIN_B
    draw.text((x0 + MARGIN_L, y0 + 14), title, fill=(0, 0, 0), font=font)
    draw.rectangle((left, top, right, bottom), outline=(0, 0, 0))
    series = {name: [(p, max(v, 0.001)) for p, v in points] for name, points in curves.items() if points}
    if not series:
        draw.text((left + 20, top + 20), "no data", fill=(120, 120, 120), font=font)
        return
    percentiles = [p for p, _ in next(iter(series.values()))]
    values = [v for points in series.values() for _, v in points]
    low = 10 ** math.floor(math.log10(min(values)))
    high = 10 ** math.ceil(math.log10(max(values)))
    if high <= low:
        high = low * 10

    def x_of(index: int) -> float:
        return left + (right - left) * index / max(len(percentiles) - 1, 1)

    def y_of(value: float) -> float:
        span = math.log10(high) - math.log10(low)
        return bottom - (bottom - top) * (math.log10(value) - math.log10(low)) / span

    for tick in _log_ticks(low, high):
        y = y_of(tick)
        draw.line((left, y, right, y), fill=(225, 225, 225))
        draw.text((left - 8, y), f"{tick:g}", fill=(0, 0, 0), font=small, anchor="rm")
    for index, p in enumerate(percentiles):
        x = x_of(index)
        draw.line((x, top, x, bottom), fill=(235, 235, 235))
        draw.text((x, bottom + 6), f"p{p:g}", fill=(0, 0, 0), font=small, anchor="mt")
    draw.text(((left + right) / 2, bottom + 28), "percentile", fill=(0, 0, 0), font=small, anchor="mt")
    draw.text((x0 + 8, top - 22), "ms (log)", fill=(0, 0, 0), font=small)
    for legend_row, (name, points) in enumerate(series.items()):
        colour = COLOURS.get(name, OTHER_COLOUR)
        xy = [(x_of(i), y_of(v)) for i, (_, v) in enumerate(points)]
        draw.line(xy, fill=colour, width=3)
        for x, y in xy:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
        ly = top + 10 + legend_row * 18
        draw.line((left + 12, ly + 7, left + 36, ly + 7), fill=colour, width=3)
        draw.text((left + 42, ly), name, fill=(0, 0, 0), font=small)


def plot(path: Path, results: Sequence[Result]) -> None:
    by_name = {r.name: r for r in results}
    image = Image.new("RGB", (PANEL_W * 2, PANEL_H * 2 + 40), "white")
    draw = ImageDraw.Draw(image)
    draw.text((20, 12), "fediverse_biz: latency percentiles, server under test vs. bare ceiling (same run)",
              fill=(0, 0, 0), font=_font(18))
    for index, name in enumerate(PLOTTED):
        result = by_name.get(name)
        title = result.title if result else name
        if name == "fanout":
            title += ": time to each verified delivery"
        curves = {k: [list(p) for p in v] for k, v in (result.curves.items() if result else [])}
        _panel(draw, (index % 2) * PANEL_W, 40 + (index // 2) * PANEL_H, title, curves)
    image.save(path, format="PNG", optimize=True)
