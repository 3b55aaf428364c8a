"""``report.html``: the drift report a person reads, one self-contained file (plots inlined as SVG).

Drifted items come first, then the others by how close they came to their threshold. Every feature shows its
baseline and current distribution (numeric: shares per PSI bin and both CDFs, whose area between is the
Wasserstein distance; categorical: shares per category), the statistics with their thresholds and p-values,
and the verdict. Quality, bias and attribution have sections of their own. Everything drawn comes from
``drift_report.json`` alone, so a report can be re-rendered from the JSON (``python -m pipeline_code.drift_html``).

The plots are drawn as SVG by the few functions below rather than with matplotlib: about 20 matplotlib axes cost
~1.2 s of CPU per report (import, ticks, PNG encoding), a third of the drift check's whole budget at 10 M rows,
while these bar and step charts cost milliseconds, stay sharp at any zoom and keep their text searchable.
"""

from __future__ import annotations

import argparse
import html
import math
import sys
from pathlib import Path
from typing import Any

from pipeline_code.artifacts import read_json

BASELINE_COLOUR = "#8da0cb"
CURRENT_COLOUR = "#e5793b"
MAX_CATEGORIES = 12  # more are pooled as "other" in the plot (the statistics use every category)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1180px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:0 0 6px} .muted{color:#666;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:6px 0} td,th{border:1px solid #ddd;padding:3px 7px;text-align:left}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
.drift{color:#fff;background:#c0392b;border-radius:3px;padding:1px 6px;font-weight:600}
.ok{color:#fff;background:#27ae60;border-radius:3px;padding:1px 6px}
.noise{color:#333;background:#f1c40f;border-radius:3px;padding:1px 6px}
.card{border:1px solid #ddd;border-radius:6px;padding:10px 12px;margin:10px 0}
.card.drifted{border-color:#c0392b;box-shadow:0 0 0 1px #c0392b inset}
.banner{padding:12px;border-radius:6px;background:#fdf2e9;border:1px solid #e5793b;font-size:15px}
.row{display:flex;gap:14px;flex-wrap:wrap;align-items:flex-start} img{max-width:100%}
"""


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a" if math.isnan(value) else "∞"
        if value != 0 and (abs(value) < 10 ** -(digits - 1) or abs(value) >= 1e6):
            return f"{value:.2e}"
        return f"{value:.{digits}g}"
    return html.escape(str(value))


def _verdict(test: dict[str, Any]) -> str:
    if test.get("drift"):
        return '<span class="drift">DRIFT</span>'
    if test.get("over_threshold"):
        return '<span class="noise" title="effect over its threshold, but not beyond noise at this size">noise</span>'
    return '<span class="ok">ok</span>'


def _scale(lo: float, hi: float, a: float, b: float) -> Any:
    span = hi - lo or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _svg(width: int, height: int, body: str, title: str) -> str:
    legend = (
        f'<rect x="{width - 130}" y="4" width="10" height="10" fill="{BASELINE_COLOUR}"/>'
        f'<text x="{width - 116}" y="13">baseline</text>'
        f'<rect x="{width - 64}" y="4" width="10" height="10" fill="{CURRENT_COLOUR}"/>'
        f'<text x="{width - 50}" y="13">current</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="10" '
        f'font-family="sans-serif" role="img"><title>{html.escape(title)}</title>'
        f'<text x="4" y="13" font-weight="600">{html.escape(title)}</text>{legend}{body}</svg>'
    )


def _pooled(
    labels: list[str], baseline: list[float], current: list[float]
) -> tuple[list[str], list[float], list[float]]:
    """At most ``MAX_CATEGORIES`` bars: the largest ones, the rest pooled as "other"."""
    if len(labels) <= MAX_CATEGORIES:
        return labels, baseline, current
    order = sorted(range(len(labels)), key=lambda i: -max(baseline[i] or 0, current[i] or 0))
    keep = sorted(order[: MAX_CATEGORIES - 1])
    rest = [i for i in range(len(labels)) if i not in keep]
    return (
        [labels[i] for i in keep] + [f"other ({len(rest)})"],
        [baseline[i] for i in keep] + [sum(baseline[i] or 0 for i in rest)],
        [current[i] for i in keep] + [sum(current[i] or 0 for i in rest)],
    )


def svg_bars(labels: list[str], baseline: list[float], current: list[float], title: str, width: int = 420) -> str:
    """Grouped bars of two share vectors over the same labels."""
    labels, baseline, current = _pooled(labels, baseline, current)
    height, left, top, bottom = 215, 38, 22, 150
    top_value = max([v or 0 for v in baseline + current] + [1e-9])
    y = _scale(0, top_value, bottom, top)
    slot = (width - left - 6) / max(len(labels), 1)
    parts = []
    for t in _ticks(0, top_value):
        parts.append(
            f'<line x1="{left}" x2="{width - 6}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e4e4e4"/>'
            f'<text x="{left - 3}" y="{y(t) + 3:.1f}" text-anchor="end">{t:.3g}</text>'
        )
    for i, label in enumerate(labels):
        x0 = left + i * slot
        for k, (value, colour) in enumerate(((baseline[i], BASELINE_COLOUR), (current[i], CURRENT_COLOUR))):
            v = value or 0
            parts.append(
                f'<rect x="{x0 + slot * (0.1 + 0.4 * k):.1f}" y="{y(v):.1f}" width="{slot * 0.4:.1f}" '
                f'height="{bottom - y(v):.1f}" fill="{colour}"><title>{html.escape(label)}: {v:.4f}</title></rect>'
            )
        parts.append(
            f'<text transform="translate({x0 + slot / 2:.1f},{bottom + 9}) rotate(-40)" text-anchor="end">'
            f"{html.escape(label[:18])}</text>"
        )
    parts.append(f'<line x1="{left}" x2="{width - 6}" y1="{bottom}" y2="{bottom}" stroke="#888"/>')
    return _svg(width, height, "".join(parts), title)


def svg_cdfs(x: list[float], baseline: list[float], current: list[float], title: str, width: int = 420) -> str:
    """Both CDFs as step lines, the area between them (the Wasserstein distance) shaded."""
    height, left, top, bottom = 215, 38, 22, 185
    lo, hi = (min(x), max(x)) if x else (0.0, 1.0)
    sx, sy = _scale(lo, hi, left, width - 12), _scale(0, 1, bottom, top)

    def steps(values: list[float]) -> list[tuple[float, float]]:
        points = [(sx(x[0]), sy(0))]
        for xi, vi in zip(x, values, strict=True):
            points += [(sx(xi), points[-1][1]), (sx(xi), sy(vi))]
        return points

    pb, pc = steps(baseline), steps(current)
    area = " ".join(f"{a:.1f},{b:.1f}" for a, b in pb + pc[::-1])
    parts = [f'<polygon points="{area}" fill="#999" fill-opacity="0.3"/>']
    for points, colour in ((pb, BASELINE_COLOUR), (pc, CURRENT_COLOUR)):
        line = " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
    parts += [f'<text x="{sx(t):.1f}" y="{bottom + 13}" text-anchor="middle">{t:g}</text>' for t in _ticks(lo, hi, 5)]
    parts += [f'<text x="{left - 3}" y="{sy(t) + 3:.1f}" text-anchor="end">{t:g}</text>' for t in (0, 0.5, 1)]
    parts.append(f'<line x1="{left}" x2="{width - 12}" y1="{bottom}" y2="{bottom}" stroke="#888"/>')
    return _svg(width, height, "".join(parts), title)


def svg_hbars(names: list[str], baseline: list[float], current: list[float], title: str, width: int = 460) -> str:
    """Horizontal grouped bars (feature attributions), in the order given."""
    row, left, top = 16, 110, 22
    sx = _scale(0, max(baseline + current + [1e-9]), left, width - 10)
    parts = []
    for i, name in enumerate(names):
        y0 = top + i * row
        parts.append(f'<text x="{left - 4}" y="{y0 + 11}" text-anchor="end">{html.escape(name)}</text>')
        for k, (value, colour) in enumerate(((baseline[i], BASELINE_COLOUR), (current[i], CURRENT_COLOUR))):
            parts.append(
                f'<rect x="{left}" y="{y0 + 2 + 6 * k}" width="{sx(value) - left:.1f}" height="6" fill="{colour}">'
                f"<title>{html.escape(name)}: {value:.4f}</title></rect>"
            )
    return _svg(width, top + row * len(names) + 8, "".join(parts), title)


def feature_plot(name: str, feature: dict[str, Any]) -> str:
    """Baseline against current: shares per bin or category, plus the CDFs of a numeric feature."""
    plot = feature["plot"]
    bars = svg_bars(plot["labels"], plot["baseline"], plot["current"], f"{name}: share of rows")
    cdf = plot.get("cdf")
    if not cdf:
        return bars
    title = "CDFs: the shaded area is the distance"
    if cdf.get("excluded") is not None:
        title = f"CDFs of the values other than {cdf['excluded']:g}"
    return bars + svg_cdfs(cdf["x"], cdf["baseline"], cdf["current"], title)


def _note(feature: dict[str, Any]) -> str:
    return f"<p class=muted>{html.escape(feature['note'])}</p>" if feature.get("note") else ""


def _tests_table(tests: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(t['statistic'])}</td><td class=num>{_fmt(t['value'])}</td>"
        f"<td class=num>{'≤' if t['direction'] == 'below' else '≥'} {_fmt(t['threshold'])}</td>"
        f"<td class=num>{_fmt(t['p_value'], 3)}</td><td class=num>{_fmt(t.get('adjusted_p_value'), 3)}</td>"
        f"<td>{_verdict(t)}</td></tr>"
        for t in tests
    )
    return (
        "<table><tr><th>statistic</th><th>effect</th><th>drifts when</th><th>p-value</th>"
        f"<th>adjusted p</th><th>verdict</th></tr>{rows}</table>"
    )


def _items(report: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    from pipeline_code.drift import all_tests

    return [(check, item or "", test) for check, item, test in all_tests(report)]


def _order_key(test: dict[str, Any]) -> tuple[bool, float]:
    from pipeline_code.drift import severity

    return (not test.get("drift"), -severity(test))


def _summary(report: dict[str, Any]) -> str:
    items = sorted(_items(report), key=lambda i: _order_key(i[2]))
    rows = "".join(
        f"<tr><td>{check}</td><td>{html.escape(item)}</td><td>{html.escape(t['statistic'])}</td>"
        f"<td class=num>{_fmt(t['value'])}</td><td class=num>{'≤' if t['direction'] == 'below' else '≥'} "
        f"{_fmt(t['threshold'])}</td><td class=num>{_fmt(t.get('adjusted_p_value'), 3)}</td><td>{_verdict(t)}</td></tr>"
        for check, item, t in items
    )
    return (
        "<table><tr><th>check</th><th>item</th><th>statistic</th><th>effect</th><th>drifts when</th>"
        f"<th>adjusted p</th><th>verdict</th></tr>{rows}</table>"
    )


def _model_sections(model: dict[str, Any]) -> str:
    parts = []
    if "quality" in model:
        q = model["quality"]
        keys = ("auc", "accuracy", "precision", "recall", "f1", "log_loss")
        rows = "".join(
            f"<tr><td>{k}</td><td class=num>{_fmt(q['reference'][k])}</td>"
            f"<td class=num>{_fmt(q['current'][k])}</td></tr>"
            for k in keys
        )
        parts.append(
            "<h2>Model quality</h2><table><tr><th>metric</th><th>reference</th><th>current</th></tr>"
            f"{rows}</table>{_tests_table([q['test']])}"
        )
    else:
        parts.append('<h2>Model quality</h2><p class="muted">No labels in this window: quality not checked.</p>')
    if model.get("bias"):
        rows = "".join(
            f"<tr><td>{html.escape(g)}</td><td class=num>{_fmt(b['reference_dppl'])}</td>"
            f"<td class=num>{_fmt(b['current_dppl'])}</td><td class=num>{_fmt(b['change'])}</td>"
            f"<td class=num>{_fmt(b['current_group_rows'])}</td><td class=num>{_fmt(b['test']['adjusted_p_value'], 3)}"
            f"</td><td>{_verdict(b['test'])}</td></tr>"
            for g, b in sorted(model["bias"].items(), key=lambda kv: _order_key(kv[1]["test"]))
        )
        threshold = next(iter(model["bias"].values()))["test"]["threshold"]
        parts.append(
            f"<h2>Bias</h2><p class=muted>DPPL = positive share of predictions of everyone else minus that of the "
            f"group; drift when it changes by at least {_fmt(threshold)}.</p><table><tr><th>group</th>"
            "<th>reference DPPL</th><th>current DPPL</th><th>change</th><th>rows in group</th><th>adjusted p</th>"
            f"<th>verdict</th></tr>{rows}</table>"
        )
    if "attribution" in model:
        a = model["attribution"]
        chart = svg_hbars(
            [f["name"] for f in a["features"]],
            [f["baseline"] for f in a["features"]],
            [f["current"] for f in a["features"]],
            "mean |SHAP| per feature (log-odds)",
        )
        parts.append(
            f"<h2>Feature attributions</h2><p class=muted>{html.escape(a['method'])}; "
            f"{a['reference_rows']:,} reference and {a['current_rows']:,} current rows; NDCG {_fmt(a['ndcg'])}.</p>"
            f"<div class=row>{chart}"
            f"{_tests_table([a['test']])}</div>"
        )
    if "prediction" in model:
        p = model["prediction"]
        chart = svg_bars(p["plot"]["labels"], p["plot"]["baseline"], p["plot"]["current"], "score distribution")
        parts.append(f"<h2>Predictions</h2><div class=row>{chart}{_tests_table([p['test']])}</div>")
    return "".join(parts)


def render(report: dict[str, Any], title: str = "") -> str:
    """The whole page."""
    head = (
        f"<!doctype html><html><head><meta charset=utf-8><title>Drift report {html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>Drift report</h1><p class=muted>{html.escape(title)}</p>"
    )
    thresholds = report.get("thresholds", {})
    if report["status"] != "ok":
        return (
            f"{head}<p class=banner><b>Not enough data</b>: {report['row_count']:,} rows in this window, at least "
            f"{report['min_rows']:,} needed. No verdict; nothing was flagged and no retraining is started.</p>"
            "</body></html>"
        )
    drifted = report["violations"]
    banner = (
        f"<p class=banner><b>{len(drifted)} violation(s)</b>: "
        + ", ".join(html.escape(f"{v['check']} {v.get('feature') or v.get('group') or ''}".strip()) for v in drifted)
        + "</p>"
        if drifted
        else '<p class="banner" style="background:#eafaf1;border-color:#27ae60"><b>No drift</b></p>'
    )
    facts = (
        f"<p class=muted>{report['row_count']:,} current rows against a baseline of {report['baseline_row_count']:,}. "
        f"{report.get('test_count', 0)} tests; one drifts when its effect is at or past its threshold <i>and</i> its "
        f"p-value, Holm-adjusted over all of them, is below {_fmt(thresholds.get('false_alarm_rate'))} (an effect "
        "past its threshold that noise at this size explains is marked <span class=noise>noise</span>).</p>"
    )
    features = sorted(report["features"].items(), key=lambda kv: _order_key(kv[1]))
    cards = "".join(
        f"<div class='card{' drifted' if f['drift'] else ''}'><h3>{html.escape(name)} ({f['kind']}) "
        f"{_verdict(f)}</h3><div class=row>{feature_plot(name, f)}"
        f"{_tests_table(list(f['tests'].values()))}</div>"
        f"{_note(f)}</div>"
        for name, f in features
    )
    label = report.get("label")
    label_html = (
        f"<h2>Label</h2><p>positive rate {_fmt(label['baseline_rate'])} (baseline) → {_fmt(label['current_rate'])}"
        f"</p>{_tests_table([label['test']])}"
        if label
        else ""
    )
    model = _model_sections(report["model"]) if report.get("model") else ""
    return (
        f"{head}{banner}{facts}<h2>Summary (drifted first)</h2>{_summary(report)}{model}{label_html}"
        f"<h2>Features</h2>{cards}</body></html>"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render report.html from a drift_report.json")
    parser.add_argument("report", help="drift_report.json")
    parser.add_argument("--output", default=None, help="default: report.html beside the JSON")
    args = parser.parse_args(argv)
    source = Path(args.report)
    target = Path(args.output) if args.output else source.with_name("report.html")
    target.write_text(render(read_json(source), str(source.parent)))
    print(f"drift_html: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
