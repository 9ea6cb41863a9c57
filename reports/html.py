"""The self-contained HTML report: one file, readable offline and on paper.

:func:`render_report` turns an :class:`services.insight.Insight` into a single HTML
document: an executive summary in plain words, then the evidence (responses and
headline metrics, drivers, the service-profit chain, instrument health), then a
methods appendix naming each statistic and its reference. Charts are plotly figures
whose JavaScript is inlined from the installed plotly package; the path diagram is
inline SVG; styles are inline CSS with print rules. The file loads nothing from the
network: no external script, font, stylesheet or image.

Every table and chart of units comes from analysis results that already suppress
groups below the instrument's minimum size; :func:`render_report` adds nothing per unit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from reports import charts
from reports.diagram import path_svg
from reports.summary import summary_points
from reports.text import linkage_interval, linkage_model_text
from services.action_plans import PlanReport
from services.insight import GroupDifferences, Insight
from surveys.errors import TandemError

__all__ = ["METHODS", "SECTIONS", "render_report"]

#: Section ids and headings, in order (the tests check every one is present).
SECTIONS = {
    "summary": "Executive summary",
    "responses": "Responses and headline metrics",
    "drivers": "What drives the outcomes",
    "compare": "Where do groups differ?",
    "linkage": "The service-profit chain across units",
    "health": "Instrument health",
    "invariance": "Same meaning across languages and waves",
    "action_plans": "Action plans and the next wave",
    "methods": "Methods and references",
}

#: (statistic, what it is used for, reference) rows of the methods appendix.
METHODS = (
    ("Cronbach's alpha with Feldt interval", "internal consistency of each scale",
     "Cronbach (1951); Feldt, Woodruff & Salih (1987). R: psych::alpha"),
    ("Corrected item-rest correlation, alpha if item deleted", "item analysis",
     "Nunnally & Bernstein (1994). R: psych::alpha"),
    ("Confirmatory factor analysis (maximum likelihood)", "does each item measure its construct",
     "Jöreskog (1969); Rosseel (2012). R: lavaan::cfa"),
    ("CFI, TLI, RMSEA, SRMR", "fit of the measurement and path models",
     "Bentler (1990); Steiger (1990); Hu & Bentler (1999). R: lavaan::fitMeasures"),
    ("Composite reliability, average variance extracted (AVE)", "convergent validity",
     "Fornell & Larcker (1981). R: semTools::compRelSEM, AVE"),
    ("Heterotrait-monotrait ratio (HTMT)", "are constructs distinct (discriminant validity)",
     "Henseler, Ringle & Sarstedt (2015). R: semTools::htmt"),
    ("Measurement invariance (configural, metric, scalar; partial by score tests); latent mean differences",
     "is each language or wave measuring the same thing",
     "Meredith (1993); Byrne, Shavelson & Muthén (1989); Chen (2007). R: lavaan::lavTestScore"),
    ("Parallel analysis, exploratory factor analysis (minres, oblimin)", "how many factors the items hold",
     "Horn (1965); Harman (1976). R: psych::fa.parallel, psych::fa"),
    ("ICC(1), ICC(2) from a one-way ANOVA", "do units differ; are unit means reliable",
     "Bliese (2000). R: multilevel::ICC1, ICC2"),
    ("r_wg(J), AD(M)", "do members of a unit agree",
     "James, Demaree & Wolf (1984); LeBreton & Senter (2008); Burke, Finkelstein & Dusig (1999). "
     "R: multilevel::rwg.j, ad.m"),
    ("Relative weights with bootstrap percentile intervals and rank stability",
     "key drivers: share of explained variance",
     "Johnson (2000); Tonidandel & LeBreton (2011); Efron & Tibshirani (1993)"),
    ("Importance-performance analysis", "where to act first", "Martilla & James (1977)"),
    ("Welch's ANOVA; one-way ANOVA with eta² and omega²", "do groups (units, waves, demographics) differ",
     "Welch (1951); Hays (1963). R: oneway.test, aov"),
    ("Games-Howell pairwise tests; Hedges' g of each group against the rest",
     "which groups differ, and by how much", "Games & Howell (1976); Hedges (1981). R: ptukey, qtukey, t.test"),
    ("Holm and Benjamini-Hochberg adjustment", "many comparisons at once",
     "Holm (1979); Benjamini & Hochberg (1995). R: p.adjust"),
    ("Unit-level path model (maximum likelihood on standardized unit means), indirect effects",
     "the service-profit chain", "Heskett et al. (1994); Schneider et al. (2009); Rosseel (2012). R: lavaan::sem"),
    ("Net Promoter Score with multinomial interval", "NPS and eNPS", "Reichheld (2003); Rocks (2016)"),
    ("Top-two-box share with Wilson interval", "CSAT", "Wilson (1927)"),
    ("Small-group suppression (primary and secondary)", "anonymity of respondents",
     "Hundepool et al. (2012), Statistical Disclosure Control"),
)

CSS = """
:root { --ink: #1d2733; --muted: #5d6b7a; --accent: #1f5f99; --line: #d9dee4; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       max-width: 1100px; margin: 0 auto; padding: 24px; line-height: 1.45; }
h1 { font-size: 1.8em; margin-bottom: 0.1em; } h2 { border-bottom: 2px solid var(--accent); padding-bottom: 4px;
     margin-top: 2em; } h3 { margin-top: 1.4em; }
.meta, .note { color: var(--muted); font-size: 0.92em; }
nav ol { columns: 2; } nav a { color: var(--accent); text-decoration: none; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.88em; width: auto; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: right; vertical-align: top; }
th { background: #f3f5f8; } td:first-child, th:first-child { text-align: left; }
td.text, th.text { text-align: left; }
.summary li { margin: 0.45em 0; } .summary { font-size: 1.05em; }
.flag { color: #a93226; }
.chart { page-break-inside: avoid; break-inside: avoid; margin: 0.5em 0 1em; }
.diagram { max-width: 100%; overflow-x: auto; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  nav { display: none; }
  h2 { page-break-before: always; break-before: page; }
  #summary h2 { page-break-before: avoid; break-before: avoid; }
  table, .chart, svg { page-break-inside: avoid; break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def _figure(fig: go.Figure) -> str:
    html = fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})
    return f'<div class="chart">{html}</div>'


def _fmt(value: object, digits: int = 2) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def format_against(value: float, threshold: float, *, digits: int = 2) -> tuple[str, str]:
    """``value`` and ``threshold`` with as many decimals as it takes (``digits`` at least,
    6 at most) for a value that differs from its threshold to print differently: 0.498
    against 0.50 is "0.498" and "0.500", not "0.50" and "0.50"."""
    d = digits
    if np.isfinite(value) and np.isfinite(threshold) and value != threshold:
        while d < 6 and round(float(value), d) == round(float(threshold), d):
            d += 1
    return _fmt(float(value), d), _fmt(float(threshold), d)


def flag_rows(flags: pd.DataFrame) -> pd.DataFrame:
    """The flags table as text (one type per column): value and threshold printed with
    :func:`format_against`, so a flagged value never reads like its threshold."""
    out = flags.copy()
    pairs = [format_against(float(v), float(t)) for v, t in zip(flags["value"], flags["threshold"], strict=True)]
    out["value"] = [v for v, _ in pairs]
    out["threshold"] = [t for _, t in pairs]
    return out.astype({c: "string" for c in out.columns})


def format_p(value: object) -> str:
    """A p-value as APA writes it: "< .001", else three decimals without the leading zero."""
    if value is None or value is pd.NA:
        return ""
    p = float(value)  # type: ignore[arg-type]
    if not np.isfinite(p):
        return ""
    return "< .001" if p < 0.001 else f"{p:.3f}".removeprefix("0")


def format_count(value: object) -> str:
    """A count (degrees of freedom, n, rank) as an integer; fractional values keep one decimal."""
    if value is None or value is pd.NA:
        return ""
    x = float(value)  # type: ignore[arg-type]
    if not np.isfinite(x):
        return ""
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"{x:.1f}"


def _is_p(column: str) -> bool:
    return str(column) in ("p", "pvalue") or "pvalue" in str(column)


#: Columns printed as integers (degrees of freedom and counts).
INTEGER_COLUMNS = ("df", "n", "n_items", "n_groups", "rank", "n_units")


def _fit(fm: Mapping[str, object], keys: Sequence[str]) -> str:
    """Fit measures as "chisq = 41.203, df = 29, pvalue = .068, ..." (df an integer, p as p)."""
    def one(k: str) -> str:
        value = fm.get(k)
        text = format_p(value) if _is_p(k) else format_count(value) if k in INTEGER_COLUMNS else _fmt(value, 3)
        return f"{'p' if _is_p(k) else k} {text if text.startswith('<') else '= ' + text}"
    return ", ".join(one(k) for k in keys if k in fm)


def _table(frame: pd.DataFrame, *, columns: Mapping[str, str] | None = None, digits: int = 2,
           text_columns: Sequence[str] = ()) -> str:
    """An HTML table of ``frame`` (values escaped), optionally renaming/choosing columns.

    p-value columns (``pvalue``, ``*pvalue*``) are printed as "< .001" or three
    decimals, degrees of freedom and counts (:data:`INTEGER_COLUMNS`) as integers.
    """
    original = list(frame.columns)
    if columns:
        original = [c for c in columns if c in frame.columns]
        frame = frame[original].rename(columns=columns)
        text_columns = [columns.get(c, c) for c in text_columns]
    kinds = {shown: ("p" if _is_p(name) else "int" if name in INTEGER_COLUMNS else "")
             for name, shown in zip(original, frame.columns, strict=True)}
    head = "".join(f'<th class="{"text" if c in text_columns else ""}">{escape(str(c))}</th>' for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        cells = "".join(
            f'<td class="{"text" if c in text_columns else ""}">{escape(_cell(row[c], kinds.get(c, ""), digits))}</td>'
            for c in frame.columns)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(value: object, kind: str, digits: int) -> str:
    if kind == "p":
        return format_p(value)
    if kind == "int":
        return format_count(value)
    return _fmt(value, digits)


def _section(key: str, body: str) -> str:
    return f'<section id="{key}"><h2>{escape(SECTIONS[key])}</h2>\n{body}\n</section>'


def _p(text: str, cls: str = "") -> str:
    return f'<p class="{cls}">{escape(text)}</p>' if cls else f"<p>{escape(text)}</p>"


def _responses(insight: Insight) -> str:
    parts = []
    for side, table in insight.responses.items():
        view = insight.views[side]
        instrument, k = view.instrument, view.k
        parts.append(f"<h3>{escape(side.capitalize())} survey: {escape(instrument.text(instrument.title))}</h3>")
        parts.append(_p(f"{view.n} responses. Units with fewer than {k} responses are shown as "
                        f"\"fewer than {k}\", never as a number; units that could reveal a smaller group by "
                        "comparison are hidden too."))
        if view.note:
            parts.append(_p(view.note, "note"))
        names = {u.id: instrument.text(u.label) for u in instrument.units}
        parts.append(_figure(charts.response_rates(table, min_group_size=k, names=names,
                                                   title=f"{side.capitalize()} responses by unit")))
        metrics = insight.metrics.get(side, {})
        scales = {m.metric: sc for m in metrics.values() if (sc := charts.metric_scale(instrument, m.metric))}
        overall = [m.overall for m in metrics.values()]
        if any(o is not None for o in overall):
            parts.append(_figure(charts.metric_intervals(overall, scales=scales, title=f"{side.capitalize()} "
                                                         "headline metrics with 95% intervals")))
        for metric, (_low, _high, text) in scales.items():
            parts.append(_p(f"{charts.METRIC_NAMES.get(metric, metric)}: mean on {text}.", "note"))
        for name, unit_metric in metrics.items():
            parts.append(_figure(charts.metric_by_unit(unit_metric.to_frame(), metric=unit_metric.metric, names=names,
                                                       scale=scales.get(unit_metric.metric))))
            waves = insight.trends.get(side, {}).get(name, pd.DataFrame())
            if len(waves) > 1:
                parts.append(_figure(charts.trend(waves, metric=unit_metric.metric,
                                                  scale=scales.get(unit_metric.metric))))
    return "\n".join(parts) or _p("No responses.", "note")


def _drivers(insight: Insight) -> str:
    labels = insight.labels
    parts = []
    result = insight.result
    if result is not None and len(result.drivers):
        parts.append(_p(f"Unit level: which employee constructs explain the differences in customer outcomes "
                        f"between the {result.n_units} linked units (relative weights, "
                        f"{result.bootstrap} bootstrap resamples of units)."))
        for outcome, table in result.drivers.groupby("outcome", sort=False):
            parts.append(_figure(charts.driver_importance(table, outcome=labels.get(outcome, outcome),
                                                          labels=labels)))
        parts.append(_table(result.drivers, columns={
            "outcome": "outcome", "predictor": "driver", "pct": "% of R²", "pct_ci_lower": "lower 95%",
            "pct_ci_upper": "upper 95%", "rank": "rank", "rank_stability": "rank stability"},
            text_columns=("outcome", "predictor"), digits=1))
    for side, found in insight.drivers.items():
        for outcome, entry in found.items():
            res = entry["result"]
            parts.append(f"<h3>Within the {escape(side)} survey: {escape(labels.get(outcome, outcome))}</h3>")
            parts.append(_figure(charts.driver_importance(res.table, outcome=labels.get(outcome, outcome),
                                                          r2=res.r2, labels=labels)))
            instrument = insight.instruments[side]
            points = {len(instrument.item(i).scale.values) for c in instrument.constructs if c.role == "driver"
                      for i in c.items if instrument.item(i).scale is not None}
            scale = f"mean score on 1-{points.pop()}" if len(points) == 1 else "mean score"
            parts.append(_figure(charts.importance_performance(entry["quadrant"], labels=labels,
                                                               performance_label=f"Performance ({scale})")))
            parts.append(_table(entry["quadrant"], columns={"driver": "driver", "importance": "importance",
                                                            "performance": "performance", "quadrant": "quadrant"},
                                text_columns=("driver", "quadrant")))
    return "\n".join(parts) or _p("No driver analysis: " + insight.problems.get(
        "linkage", "the instruments define no driver and outcome constructs") + ".", "note")


def _linkage(insight: Insight) -> str:
    result, study = insight.result, insight.study
    if result is None:
        reason = insight.problems.get("linkage", "no study links an employee and a customer survey")
        return _p(f"Not available: {reason}.", "note")
    labels = insight.labels
    parts = [_p(f"{result.n_units} units have at least {result.min_employees} employee and "
                f"{result.min_customers} customer responses; {len(result.dropped)} units were left out and are "
                "not shown.")]
    parts.append("<h3>Is aggregating to units justified?</h3>")
    parts.append(_table(result.aggregation, columns={
        "side": "side", "construct": "construct", "icc1": "ICC(1)", "icc2": "ICC(2)", "rwg_j_mean": "mean r_wg(J)",
        "ad_m_mean": "mean AD(M)", "verdict": "verdict", "reason": "why"},
        text_columns=("side", "construct", "verdict", "reason")))
    parts.append("<h3>The chain: standardized unit-level paths</h3>")
    parts.append(_p(linkage_model_text(result)))
    parts.append(_p(f"Intervals: {linkage_interval(result)}s. Solid, thick arrows are supported by the data "
                    "(p < .05, marked *); dashed ones are not. "
                    "Numbers are standardized coefficients; R² is the share of a node's variance between units "
                    "explained by its predictors."))
    parts.append('<div class="diagram">' + path_svg(result.paths, r2=result.r2, side=study.side, labels=labels)
                 + "</div>")
    parts.append(_table(result.paths, columns={"lhs": "outcome", "rhs": "predictor", "est": "beta (std.)",
                                               "ci_lower": "lower 95%", "ci_upper": "upper 95%", "pvalue": "p"},
                        text_columns=("lhs", "rhs"), digits=3))
    if len(result.indirect):
        parts.append("<h3>Indirect effects of employee constructs on customer outcomes</h3>")
        parts.append(_table(result.indirect, columns={"lhs": "employee construct", "rhs": "customer outcome",
                                                      "est": "effect (std.)", "ci_lower": "lower 95%",
                                                      "ci_upper": "upper 95%", "pvalue": "p"},
                            text_columns=("lhs", "rhs"), digits=3))
    fm = result.fit_measures
    parts.append(_p("Model fit: " + _fit(fm, ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr"))))
    if len(result.drivers):
        main = "csat" if "csat" in set(result.drivers["outcome"]) else result.drivers["outcome"].iloc[0]
        top = result.drivers[result.drivers["outcome"] == main].sort_values("rank").head(2)
        for predictor in top["predictor"]:
            parts.append(_figure(charts.unit_scatter(
                result.units, x=predictor, y=main, size="n_employees", min_size=result.min_employees,
                x_label=labels.get(predictor, predictor), y_label=labels.get(main, main))))
    for warning in result.warnings:
        parts.append(_p(f"Note: {warning}", "note"))
    return "\n".join(parts)


def _compare(insight: Insight) -> str:
    from services.insight import compare_breakdowns

    parts = [_p("Each construct score and metric question, by unit, wave and demographic group: Welch's ANOVA "
                "(do the groups differ at all?), then each group against the rest of the groups shown, as Hedges' g "
                "(0.2 small, 0.5 medium, 0.8 large), with the p-values adjusted over every cell of a table (Holm). "
                "Groups that may not be shown are named as hidden and take part in no comparison.")]
    found = False
    for side, comparisons in insight.comparisons.items():
        options = compare_breakdowns(insight.views[side])
        for by, result in comparisons.items():
            name = options.get(by, by)
            parts.append(f"<h3>{escape(side.capitalize())} survey, by {escape(name.lower())}</h3>")
            try:
                parts.append(_compare_one(result, name))
                found = True
            except (TandemError, ValueError, KeyError) as exc:
                parts.append(_p(f"Not shown: {exc}.", "note"))
    problems = [f"{step}: {reason}" for step, reason in insight.problems.items() if "comparisons" in step]
    for problem in problems:
        parts.append(_p(f"Not available: {problem}.", "note"))
    if not found and not problems:
        parts.append(_p("No breakdown shows two or more groups that may be shown.", "note"))
    return "\n".join(parts)


def _compare_one(result: GroupDifferences, name: str) -> str:
    parts = []
    if result.hidden:
        parts.append(_p(f"Hidden (protects a smaller group): {', '.join(result.hidden)}.", "note"))
    if not len(result.cells):
        parts.append(_p("Fewer than two groups may be shown: nothing to compare.", "note"))
        return "\n".join(parts)
    parts.append(_figure(charts.group_differences_heatmap(result.cells, group_label=name, alpha=result.alpha)))
    significant = result.cells[result.cells["significant"].astype(bool)]
    if len(significant):
        significant = significant.reindex(significant["hedges_g"].abs().sort_values(ascending=False).index)
        parts.append("<p><strong>Groups that differ from the rest (adjusted p &lt; "
                     f"{result.alpha:g})</strong></p>")
        parts.append(_table(significant, columns={
            "label": "measure", "group": "group", "n": "n", "mean": "mean", "rest_mean": "rest", "hedges_g": "g",
            "pvalue_adj": "adjusted p"}, text_columns=("label", "group"), digits=3))
    else:
        parts.append(_p("No group differs from the rest of the groups shown after the adjustment."))
    parts.append(_table(result.tests, columns={
        "label": "measure", "n": "n", "n_groups": "groups", "welch_F": "Welch F", "welch_df2": "df2",
        "welch_pvalue": "p", "welch_pvalue_adj": "adjusted p", "eta2": "eta²", "omega2": "omega²"},
        text_columns=("label",), digits=3))
    return "\n".join(parts)


def _health(insight: Insight) -> str:
    labels = insight.labels
    parts = []
    for side, report in insight.health.items():
        parts.append(f"<h3>{escape(side.capitalize())} survey</h3>")
        parts.append(_p(report.primary_sentence))
        flags = report.flags
        if len(flags):
            parts.append("<p><strong>Flags and what to consider</strong></p>")
            parts.append(_table(flag_rows(flags), columns={"level": "level", "target": "what", "statistic": "statistic",
                                                "value": "value", "threshold": "threshold",
                                                "message": "what to consider"},
                                text_columns=("level", "target", "statistic", "message")))
        else:
            parts.append(_p("No flags: every scale passed every check."))
        constructs = report.constructs.reset_index()
        constructs.insert(1, "label", [labels.get(c, c) for c in constructs["construct"]])
        parts.append("<p><strong>Reliability per scale</strong> (ordinal beside continuous; "
                     "<em>primary</em> says which one the flags judge)</p>")
        parts.append(_table(constructs, columns={
            "construct": "construct", "label": "label", "method": "primary", "n_items": "items", "n": "n",
            "alpha": "alpha", "ci_lower": "lower 95%", "ci_upper": "upper 95%", "ordinal_alpha": "ordinal alpha",
            "omega": "omega", "ordinal_omega": "ordinal omega", "composite_reliability": "CR (ML)",
            "ordinal_composite_reliability": "CR (WLSMV)", "ave": "AVE (ML)", "ordinal_ave": "AVE (WLSMV)"},
            text_columns=("construct", "label", "method")))
        parts.append("<p><strong>Item analysis</strong></p>")
        parts.append(_table(report.items.reset_index(), columns={
            "item": "item", "construct": "construct", "mean": "mean", "sd": "SD", "missing_share": "missing",
            "item_rest_cor": "item-rest r", "alpha_if_deleted": "alpha if deleted", "loading": "loading (ML)",
            "ordinal_loading": "loading (WLSMV)", "cross_loading": "largest cross-loading"},
            text_columns=("item", "construct")))
        if len(report.fit):
            parts.append("<p><strong>CFA fit</strong> (primary first; WLSMV: scaled chi², and the indices "
                         "named)</p>")
            parts.append(_table(report.fit.rename(columns={"nobs": "n"}), columns={
                "method": "method", "indices": "indices", "n": "N", "chisq": "chi²", "df": "df",
                "pvalue": "p", "cfi": "CFI", "tli": "TLI", "rmsea": "RMSEA", "srmr": "SRMR"}, digits=3,
                text_columns=("method", "indices")))
        parallel = insight.parallel.get(side)
        if parallel is not None:
            parts.append(_figure(charts.scree(parallel.scree, n_factors=parallel.n_factors,
                                              quantile=parallel.quantile)))
        if report.efa is not None:
            parts.append(_figure(charts.loadings_heatmap(report.efa.loadings, title=(
                f"{side.capitalize()} survey: exploratory factor loadings ({report.efa.rotation or 'unrotated'})"))))
        if len(report.htmt):
            parts.append(_figure(charts.htmt_heatmap(report.htmt, threshold=report.thresholds.htmt,
                                                     labels=labels)))
    return "\n".join(parts) or _p("Not available: " + "; ".join(
        v for k, v in insight.problems.items() if "health" in k) + ".", "note")


def _invariance(insight: Insight) -> str:
    """Is each language or wave measuring the same thing (:mod:`services.invariance`), per side."""
    from services.invariance import HEADINGS, health_invariance

    labels = {"level": "level", "label": "construct", "released": "released (differs between groups)"}
    latent = {"label": "construct", "group": "group", "reference_group": "against", "mean": "latent mean difference",
              "mean_se": "SE", "mean_pvalue": "p", "d": "d (reference SDs)", "variance_ratio": "variance ratio"}
    parts = []
    for side, view in insight.views.items():
        if side not in insight.health:
            continue
        parts.append(f"<h3>{escape(side.capitalize())} survey</h3>")
        try:
            found = health_invariance(view)
        except TandemError as exc:
            parts.append(_p(f"Not available: {getattr(exc, 'message', exc)}", "note"))
            continue
        for by, result in found.items():
            parts.append(f"<p><strong>{escape(HEADINGS[by])}</strong></p>")
            parts.append("<ul>" + "".join(f"<li>{escape(s)}</li>" for s in result.sentences) + "</ul>")
            if result.fitted:
                parts.append(_table(result.levels, columns=labels, text_columns=("label", "level", "released")))
            if len(result.latent):
                parts.append(_table(result.latent, columns=latent, digits=3,
                                    text_columns=("label", "group", "reference_group")))
    return "\n".join(parts) or _p("Not available: the instrument health check did not run.", "note")


def _action_plans(report: PlanReport | None) -> str:
    """Plans per unit and driver, overdue actions, and the next wave beside units without a plan."""
    if report is None:
        return _p("Not part of this report: it was made without the action plans of the store.", "note")
    rollup, parts = report.rollup, []
    if rollup.by_node.empty or not int(rollup.by_node["plans"].sum()):
        return _p("No action plans yet.", "note")
    parts.append(_p("Counts of plans and actions; a plan's status follows its actions. No survey answer is "
                    "shown here."))
    parts.append(_table(rollup.by_node.rename(columns={"units_with_plans": "units with plans"}),
                        text_columns=("node", "level")))
    parts.append(_table(rollup.by_driver.drop(columns="driver"), text_columns=("label",)))
    parts.append(_p(f"{len(rollup.overdue)} actions are overdue." if len(rollup.overdue) else "No action is overdue."))
    if not rollup.overdue.empty:
        parts.append(_table(rollup.overdue, columns={"unit": "unit", "title": "action", "due": "due",
                                                     "status": "status", "days_overdue": "days overdue"},
                            text_columns=("unit", "action", "status")))
    wave = report.next_wave
    if wave is None:
        return "\n".join([*parts, _p("The next wave is compared once the data holds two waves.", "note")])
    parts.append(f"<h3>From wave {escape(wave.before)} to wave {escape(wave.after)}</h3>")
    parts += [_p(sentence) for sentence in wave.sentences] + [_p(note, "note") for note in wave.notes]
    if wave.effects is not None:
        table = wave.to_frame().assign(driver=lambda f: f["driver"].map(lambda d: report.labels.get(d, d)))
        parts.append(_table(table, columns={
            "driver": "driver", "n_planned": "units with a plan", "planned_change": "with: change",
            "planned_lower": "with: 95% from", "planned_upper": "with: 95% to", "n_comparison": "units without",
            "comparison_change": "without: change", "comparison_lower": "without: 95% from",
            "comparison_upper": "without: 95% to", "difference": "difference",
            "difference_lower": "Welch 95% from", "difference_upper": "Welch 95% to"},
            text_columns=("driver",)))
        parts.append(_p("Change: a unit's driver mean in the later wave minus the earlier one, for units the "
                        "disclosure policy shows whole in both waves. Comparison units have no plan and the same "
                        "parent (else the same level). Group intervals: t; the difference: Welch. Units chose to "
                        "plan and low scores tend to rise anyway, so this does not show that a plan caused a "
                        "change.", "note"))
    return "\n".join(parts)


def _methods(insight: Insight) -> str:
    rows = pd.DataFrame(METHODS, columns=["statistic", "used for", "reference"])
    body = [_table(rows, text_columns=("statistic", "used for", "reference"))]
    body.append(_p("How sure we are, in one way per table. Every interval is a 95% bootstrap interval: the "
                   "analysis is repeated on resampled data (units for the chain and the unit-level drivers, "
                   "respondents within a survey), and the interval holds the middle 95% of the results. For the "
                   "paths and indirect effects of the chain, the p-value comes from the same resamples, so an "
                   "interval excludes 0 exactly when p is below .05. Shares of explained variance use the "
                   "bias-corrected version of that interval (Efron 1982), which keeps the estimate inside its "
                   "interval when the resampled shares are skewed. 'Fix first' appears only when the "
                   "recommendation rule holds: the model explains enough, the driver clearly leads, and its "
                   "performance gap is real, each judged on its interval."))
    body.append(_p(f"Bootstrap: {insight.bootstrap} resamples (seed {insight.seed}). Anonymity: groups with fewer "
                   f"than {insight.min_group_size} respondents are never shown as numbers, and no two groups shown "
                   "(filters, waves, totals, breakdowns) differ by fewer than that many respondents: every figure "
                   "describes whole blocks of at least that size (see docs/privacy.md)."))
    return "\n".join(body)


def render_report(insight: Insight, *, generated: dt.datetime | None = None,
                  action_plans: PlanReport | None = None) -> str:
    """One self-contained HTML document for ``insight``.

    Parameters
    ----------
    insight
        :func:`services.insight.collect_insight` output.
    generated
        Timestamp printed in the header (default: now, UTC).
    action_plans
        :func:`services.action_plans.plan_report` for the section on action plans (the
        section says it is not part of the report without it).

    Returns
    -------
    str
        The HTML text: sections :data:`SECTIONS` in order, plotly.js inlined once, no
        reference to any external resource.
    """
    generated = generated or dt.datetime.now(dt.UTC)
    summary = "".join(f"<li>{escape(p)}</li>" for p in summary_points(insight))
    sections = [
        _section("summary", f'<ul class="summary">{summary}</ul>'),
        _section("responses", _responses(insight)),
        _section("drivers", _drivers(insight)),
        _section("compare", _compare(insight)),
        _section("linkage", _linkage(insight)),
        _section("health", _health(insight)),
        _section("invariance", _invariance(insight)),
        _section("action_plans", _action_plans(action_plans)),
        _section("methods", _methods(insight)),
    ]
    nav = "".join(f'<li><a href="#{k}">{escape(v)}</a></li>' for k, v in SECTIONS.items())
    sources = f"{insight.dataset.name}; " + ", ".join(f"{side}: {view.n} responses ({view.selection.describe()})"
                                                     for side, view in insight.views.items())
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(insight.title)}: Tandem report</title>\n<style>{CSS}</style>\n"
        f"<script type=\"text/javascript\">{get_plotlyjs()}</script>\n</head>\n<body>\n"
        f"<header><h1>{escape(insight.title)}</h1><p class=\"meta\">Tandem report, generated "
        f"{generated:%Y-%m-%d %H:%M} UTC. Data: {escape(sources)}.</p></header>\n"
        f"<nav><ol>{nav}</ol></nav>\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )
