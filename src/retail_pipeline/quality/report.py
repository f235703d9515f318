"""The quality report: one self-contained HTML page per run (no scripts, no external files).

The chart is a matplotlib PNG inlined as base64, so the page opens anywhere, from a mail
attachment or an S3 console, and reads without tools.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pandas as pd
from jinja2 import Environment, select_autoescape

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Data quality {{ run_date }}</title>
<style>
 body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem;color:#222;max-width:1200px}
 h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
 .banner{padding:.8rem 1rem;border-radius:6px;font-weight:600;margin:1rem 0}
 .ok{background:#e6f4ea;color:#1e6b34} .warn{background:#fff4e0;color:#8a5300} .bad{background:#fde8e8;color:#a11}
 table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;font-size:.9rem}
 th,td{border:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
 th{background:#f5f5f5} td.num{text-align:right;font-variant-numeric:tabular-nums}
 .critical{color:#a11;font-weight:600} .warning{color:#8a5300;font-weight:600} .pass{color:#1e6b34}
 details{margin:.3rem 0} pre{white-space:pre-wrap;font-size:.8rem;background:#fafafa;padding:.5rem}
 .sample td,.sample th{font-size:.8rem}
</style></head><body>
<h1>Data quality report: {{ run_date }}</h1>
<p class="sub">run {{ run_id }} &middot; {{ total }} checks &middot; {{ passed }} passed &middot;
 {{ n_critical }} critical failures &middot; {{ n_warning }} warnings</p>
{% if n_critical %}<div class="banner bad">FAILED: {{ n_critical }} critical check(s) failed &mdash; {{ critical_names }}. The run was stopped.</div>
{% elif n_warning %}<div class="banner warn">Passed with {{ n_warning }} warning(s).</div>
{% else %}<div class="banner ok">All checks passed.</div>{% endif %}

<h2>Volume by retailer, last {{ chart_days }} days</h2>
{% if chart %}<img alt="fact rows per retailer and day" src="data:image/png;base64,{{ chart }}">{% endif %}
{% if volume_table %}<table><tr><th>day</th>{% for r in volume_retailers %}<th>{{ r }}</th>{% endfor %}</tr>
{% for row in volume_table %}<tr><td>{{ row.day }}</td>{% for v in row['values'] %}<td class="num">{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}

<h2>Failed checks</h2>
{% if failed %}
{% for r in failed %}
<h3 class="{{ r.severity }}">[{{ r.severity|upper }}] {{ r.check_name }} &mdash; {{ r.retailer }}</h3>
<p>{{ r.message }}</p>
<p>observed <b>{{ r.observed }}</b>, threshold {{ r.threshold }}</p>
{% if r.sample %}<table class="sample"><tr>{% for c in r.sample_columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for s in r.sample %}<tr>{% for c in r.sample_columns %}<td>{{ s[c] }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}
<details><summary>all details</summary><pre>{{ r.details_json }}</pre></details>
{% endfor %}
{% else %}<p class="pass">None.</p>{% endif %}

<h2>All checks</h2>
<table><tr><th>check</th><th>retailer</th><th>severity</th><th>result</th><th>observed</th><th>threshold</th><th>message</th></tr>
{% for r in rows %}<tr><td>{{ r.check_name }}</td><td>{{ r.retailer }}</td><td>{{ r.severity }}</td>
<td class="{{ 'pass' if r.passed else r.severity }}">{{ 'pass' if r.passed else 'FAIL' }}</td>
<td class="num">{{ r.observed }}</td><td class="num">{{ r.threshold }}</td><td>{{ r.message }}</td></tr>{% endfor %}
</table>
<p class="sub">Checks, thresholds and severities: conf/base/parameters_quality.yml; queries: sql/quality/; results: table dq_check_results.</p>
</body></html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def _sample_rows(details: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The offending rows to show: the sample, or the failing days of a reconciliation."""
    sample = details.get("sample") or []
    if not sample and isinstance(details.get("days"), list):
        sample = [d for d in details["days"]
                  if d.get("gap") or d.get("row_gap") or (d.get("amount_gap") not in (None, 0, 0.0, "0.00"))]
    if not sample and isinstance(details.get("columns"), dict):
        sample = [{"column": k, "null rows": v} for k, v in details["columns"].items()]
    sample = [s for s in sample if isinstance(s, dict)][:20]
    columns: list[str] = []
    for s in sample:
        columns += [c for c in s if c not in columns]
    return columns, sample


def volume_chart(volume: pd.DataFrame, days: int) -> tuple[str, list[str], list[dict[str, Any]]]:
    """PNG (base64) of fact rows per retailer over the last `days` days, and the same as a table."""
    if volume is None or volume.empty:
        return "", [], []
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    frame = volume.copy()
    frame["sale_date"] = pd.to_datetime(frame["sale_date"])
    last = frame["sale_date"].max()
    frame = frame[frame["sale_date"] > last - pd.Timedelta(days=days)]
    pivot = frame.pivot_table(index="sale_date", columns="retailer_code", values="row_count",
                              aggfunc="sum", fill_value=0).sort_index()
    fig, ax = plt.subplots(figsize=(8, 3), dpi=90)
    try:
        for code in pivot.columns:
            ax.plot(pivot.index, pivot[code], marker="o", linewidth=1.5, label=code)
        ax.set_ylabel("fact rows")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=.3)
        ax.legend(loc="upper left", fontsize=8)
        fig.autofmt_xdate()
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    table = [{"day": day.date().isoformat(), "values": [f"{int(v):,}" for v in row]}
             for day, row in pivot.iloc[::-1].iterrows()]
    return base64.b64encode(buffer.getvalue()).decode("ascii"), [str(c) for c in pivot.columns], table


def render_html(results: pd.DataFrame, volume: pd.DataFrame, params: dict[str, Any]) -> str:
    chart_days = int(params.get("report_days", 14))
    chart, retailers, table = volume_chart(volume, chart_days)
    rows = []
    for r in results.itertuples(index=False):
        details = r.details if isinstance(r.details, dict) else json.loads(r.details or "{}")
        columns, sample = _sample_rows(details)
        rows.append({
            "check_name": r.check_name, "retailer": "(all retailers)" if pd.isna(r.retailer_code) else str(r.retailer_code),
            "severity": r.severity, "passed": bool(r.passed), "observed": _fmt(r.observed),
            "threshold": _fmt(r.threshold), "message": details.get("message", ""),
            "sample_columns": columns, "sample": [{c: _fmt(s.get(c)) for c in columns} for s in sample],
            "details_json": json.dumps(details, indent=1, default=str)[:20000],
        })
    order = {"critical": 0, "warning": 1, "info": 2}
    failed = sorted((r for r in rows if not r["passed"]), key=lambda r: (order.get(r["severity"], 3), r["check_name"]))
    critical = [r for r in failed if r["severity"] == "critical"]
    return _env.from_string(_TEMPLATE).render(
        run_date=results["run_date"].iloc[0] if len(results) else "",
        run_id=results["run_id"].iloc[0] if len(results) else "",
        total=len(rows), passed=sum(r["passed"] for r in rows),
        n_critical=len(critical), n_warning=sum(r["severity"] == "warning" for r in failed),
        critical_names=", ".join(sorted({f"{r['check_name']} ({r['retailer']})" for r in critical})),
        failed=failed, rows=sorted(rows, key=lambda r: (r["passed"], r["check_name"], r["retailer"])),
        chart=chart, chart_days=chart_days, volume_retailers=retailers, volume_table=table,
    )
