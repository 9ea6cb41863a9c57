"""Is the German version measuring the same thing? Measurement invariance of one
instrument across its languages or waves, through the disclosure policy.

This module computes no statistic itself: it picks the groups the disclosure policy lets
a :class:`~services.selection.SideView` describe (:meth:`SideView.groups` /
:meth:`SideView.grouped`: each group is the union of the disclosure blocks all of whose
respondents share its language or wave), fits each construct's one-factor CFA across
those groups with :func:`analysis.sem.invariance` (configural -> metric -> scalar, with
the partial-invariance search), and says the outcome in words. A construct whose items
have few answer categories (:func:`analysis.measurement.ordinal_categories`) is fitted
as ordinal, by WLSMV: thresholds tied at the scalar step, the steps compared by the
scaled CFI, no search. Groups below the
disclosure threshold are never computed on: a language whose responses share blocks with
other languages is left out and said to be hidden (never with a count), and a group the
policy shows but that is too small for a multi-group CFA is named with the minimum it
lacks ("fewer than 100 respondents"), never with its own count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import DataError
from services.selection import HIDDEN_LABEL, SideView
from surveys.errors import TandemError

__all__ = [
    "BY",
    "GROUP_COLUMNS",
    "HEADINGS",
    "LATENT_COLUMNS",
    "LEVEL_COLUMNS",
    "MIN_GROUP_N",
    "TABLE_COLUMNS",
    "InstrumentInvariance",
    "health_invariance",
    "measurement_invariance",
]

#: Respondents a group needs before its CFA is compared with another group's: multi-group
#: CFA of a few indicators per factor needs about 100 per group for stable ML estimates and
#: trustworthy ΔCFI (Meade & Lautenschlager 2004; Kline 2016, ch. 9 and 16).
MIN_GROUP_N = 100
#: The columns invariance is checked across, with the question each answers.
BY = {"language": "Is the {group} version measuring the same thing?",
      "wave": "Did the respondents of {group} read the items as those of {reference} did?"}
#: The question of each column as a heading (the health page, the report).
HEADINGS = {"language": "Is the translated version measuring the same thing?",
            "wave": "Did this wave's respondents read the items as the last wave's did?"}
#: Columns of :attr:`InstrumentInvariance.groups`.
GROUP_COLUMNS = ["group", "name", "status", "n", "note"]
#: Columns of :attr:`InstrumentInvariance.table` (one row per construct and model).
TABLE_COLUMNS = ["construct", "label", "method", "model", "chisq", "df", "cfi", "rmsea", "srmr", "compared_with",
                 "delta_chisq", "delta_df", "pvalue", "delta_cfi", "delta_rmsea", "holds", "released"]
#: Columns of :attr:`InstrumentInvariance.levels` (one row per construct).
LEVEL_COLUMNS = ["construct", "label", "method", "level", "comparable", "released", "reason"]
#: Columns of :attr:`InstrumentInvariance.latent`.
LATENT_COLUMNS = ["construct", "label", "group", "reference_group", "mean", "mean_se", "mean_pvalue", "d",
                  "variance_ratio", "variance_diff", "variance_diff_se", "variance_diff_pvalue"]
#: English names of the usual language codes (others are shown as their code).
LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "nl": "Dutch",
                  "pt": "Portuguese", "pl": "Polish", "sv": "Swedish", "da": "Danish", "fi": "Finnish",
                  "no": "Norwegian", "cs": "Czech", "tr": "Turkish", "ja": "Japanese", "zh": "Chinese"}
#: How a construct was fitted (the ``method`` column).
ORDINAL, CONTINUOUS = "ordinal (WLSMV)", "continuous (ML)"
_POOLED = "\x00hidden"
_GROUP = "\x00group"


@dataclass(frozen=True)
class InstrumentInvariance:
    """Invariance of one instrument's constructs across the languages or waves of a view.

    Attributes
    ----------
    side, by
        The survey side and the column (``language`` or ``wave``).
    reference
        The reference group (latent means 0): the instrument's first language, the
        earliest wave; "" when nothing was fitted.
    groups
        Every group of ``by`` in the view (:data:`GROUP_COLUMNS`): ``status`` is
        ``used``, ``too few`` (shown by the policy but below :data:`MIN_GROUP_N`) or
        ``hidden`` (shares disclosure blocks with other groups: no number, ``n`` empty);
        ``note`` says why in words.
    table, levels, latent
        Per construct the invariance sequence (:data:`TABLE_COLUMNS`), the level reached
        and what was released (:data:`LEVEL_COLUMNS`), and the latent mean and variance
        differences where comparable (:data:`LATENT_COLUMNS`).
    answers
        Group -> the question for that group and its answer in plain words (every group
        but the reference; a hidden or too small group gets the reason it is not answered).
    sentences
        The answers and the notes on left-out groups and constructs, in order.

    The fitted models themselves stay inside this module: their case counts per construct
    could differ from a group's size by respondents who skipped a construct, a group the
    policy never measured.
    """

    side: str
    by: str
    reference: str
    groups: pd.DataFrame
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TABLE_COLUMNS))
    levels: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LEVEL_COLUMNS))
    latent: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LATENT_COLUMNS))
    answers: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    sentences: tuple[str, ...] = ()

    @property
    def fitted(self) -> bool:
        """Whether any construct was compared."""
        return bool(len(self.levels))

    def to_frame(self) -> pd.DataFrame:
        """The per-construct levels (a copy)."""
        return self.levels.copy()


def group_name(by: str, value: str) -> str:
    """A group as it reads in a sentence: ``German``, ``wave 2026-1``."""
    return LANGUAGE_NAMES.get(value, value) if by == "language" else f"wave {value}"


def _choose_groups(view: SideView, by: str, min_n: int) -> tuple[pd.DataFrame, pd.Series]:
    """The groups of ``by`` as the policy shows them, and each shown row's group label."""
    status = view.groups(by)
    labels = view.grouped(by, _POOLED).astype(str)
    sizes = labels[labels != _POOLED].value_counts()
    records = []
    for group, state in status.items():
        name = group_name(by, group)
        if state == "hidden":
            kind = "languages" if by == "language" else "waves"
            records.append({"group": group, "name": name, "status": "hidden", "n": pd.NA,
                            "note": f"Not shown: {name} is {HIDDEN_LABEL}: its responses share disclosure blocks "
                                    f"with other {kind}, so comparing it could reveal groups of fewer than "
                                    f"{view.k} respondents."})
            continue
        n = int(sizes.get(group, 0))
        part = " (part: some of its responses are left out to protect a smaller group)" if state == "partial" else ""
        if n < min_n:
            records.append({"group": group, "name": name, "status": "too few", "n": n,
                            "note": f"Not yet: fewer than {min_n} respondents in {name}{part}."})
        else:
            note = (f"{name}: some of its responses are left out to protect a smaller group; the comparison "
                    "describes the rest." if part else "")
            records.append({"group": group, "name": name, "status": "used", "n": n, "note": note})
    groups = pd.DataFrame(records, columns=GROUP_COLUMNS)
    groups["n"] = pd.array(groups["n"], dtype="Int64")
    return groups, labels


def _reference(view: SideView, by: str, used: Sequence[str]) -> str:
    if by == "language":
        for lang in view.instrument.languages:
            if lang in used:
                return lang
    return sorted(used)[0]


def measurement_invariance(view: SideView, *, by: str, constructs: Sequence[str] | None = None,
                           min_n: int = MIN_GROUP_N, rule: str = "cfi", ordinal_max_categories: int | None = None,
                           **fit_options: Any) -> InstrumentInvariance:
    """Measurement invariance of each construct across the languages or waves of a view.

    Parameters
    ----------
    view
        One side under a selection (:func:`services.selection.select`).
    by
        ``"language"`` or ``"wave"`` (:data:`BY`).
    constructs
        Construct ids (default every construct with at least three items; a construct with
        fewer is not identified on its own and is named in the sentences).
    min_n
        Respondents a group needs (:data:`MIN_GROUP_N`; never below the view's disclosure
        threshold).
    rule
        Stopping rule of the partial-invariance search (:func:`analysis.sem.invariance`).
    ordinal_max_categories
        A construct whose items all have at most this many answer categories is fitted
        as ordinal (default :attr:`analysis.measurement.HealthThresholds.ordinal_max_categories`,
        five; 0 fits every construct as continuous).
    **fit_options
        Passed to :func:`analysis.sem.invariance` and on to :func:`analysis.sem.fit`
        (``estimator=``, ``ordered=``; either of them turns the automatic choice off).

    Returns
    -------
    InstrumentInvariance

    Raises
    ------
    TandemError
        ``by`` is not a column invariance can be checked across, or an unknown construct.

    Notes
    -----
    Items are reverse-keyed first (:func:`analysis.scoring.score`). A construct with
    missing answers is fitted by FIML. The reference group is the instrument's first
    language, or the earliest wave. Each construct is a one-factor model
    ``construct =~ item1 + ...`` (lavaan's marker parameterization), so its verdict and
    any released item are its own.

    Ordinal constructs (Millsap & Yun-Tein 2004; Wu & Estabrook 2016): a five-point
    answer is a coarse reading of a continuous latent response, so the model is fitted by
    WLSMV with the items ``ordered=`` (complete answers of the construct, there is no
    FIML for WLSMV): configural, then equal loadings, then equal loadings *and
    thresholds* (the scalar step of ordinal items, lavaan ``group.equal = c("loadings",
    "thresholds")``), each step judged by the change in the *scaled* CFI. The search for
    partial invariance is off, because its score tests need a likelihood, so a construct
    that is not scalar invariant names no item. Every answer category must be chosen in
    every group; where one is not, the construct is fitted as continuous (ML, with the
    search) and a sentence says so. The answers and a sentence on the method say which
    constructs were fitted which way.

    References
    ----------
    Millsap, R. E., & Yun-Tein, J. (2004). Assessing factorial invariance in
    ordered-categorical measures. *Multivariate Behavioral Research*, 39, 479-515.

    Wu, H., & Estabrook, R. (2016). Identification of confirmatory factor analysis models
    of different levels of invariance for ordered categorical outcomes. *Psychometrika*,
    81, 1014-1045.
    """
    from analysis.measurement import HealthThresholds, ordinal_categories
    from analysis.scoring import score
    from analysis.sem import invariance

    if by not in BY:
        raise TandemError(f"cannot check invariance across '{by}'", where="measurement_invariance(by=...)",
                          fix=f"use one of: {', '.join(BY)}.")
    instrument = view.instrument
    chosen = _constructs(instrument, constructs)
    min_n = max(int(min_n), view.k)
    if view.empty or by not in view.frame:
        groups = pd.DataFrame(columns=GROUP_COLUMNS)
        return InstrumentInvariance(view.side, by, "", groups, sentences=(_one_group(by, [], view),))
    groups, labels = _choose_groups(view, by, min_n)
    used = groups.loc[groups["status"] == "used", "group"].tolist()
    base = _reference(view, by, groups["group"].tolist()) if len(groups) else ""
    reference = base if base in used else (_reference(view, by, used) if used else "")
    anchor = reference or base
    note_of = dict(zip(groups["group"], groups["note"], strict=True))
    waiting = {g: (_question(by, g, anchor), note_of[g] if g not in used else note_of[anchor])
               for g in groups["group"] if g != anchor and (g not in used or len(used) < 2)}
    if len(used) < 2:
        lead = (_one_group(by, groups["group"].tolist(), view),) if len(groups) < 2 else ()
        sentences = (*lead, *(f"{q} {a}" for q, a in waiting.values()))
        return InstrumentInvariance(view.side, by, "", groups, answers=waiting, sentences=tuple(sentences))
    order = [reference] + [g for g in used if g != reference]
    scored = score(view.frame, instrument)
    keep = labels.isin(order).to_numpy()
    data = scored[keep].assign(**{_GROUP: labels[keep].to_numpy()})
    data = data.iloc[np.argsort(data[_GROUP].map({g: i for i, g in enumerate(order)}).to_numpy(), kind="stable")]
    label_of = _labels(instrument)
    tables, levels, latents, skipped, results, fallback = [], [], [], [], {}, []
    max_categories = (HealthThresholds().ordinal_max_categories if ordinal_max_categories is None
                      else int(ordinal_max_categories))
    automatic = not ({"ordered", "estimator"} & set(fit_options))
    for construct in chosen:
        items = list(construct.items)
        part = data[[*items, _GROUP]]
        missing = "fiml" if part[items].isna().to_numpy().any() else "listwise"
        model = f"{construct.id} =~ " + " + ".join(items)
        ordinal = automatic and len(ordinal_categories(part[items], max_categories)) == len(items)
        method, result = CONTINUOUS, None
        try:
            if ordinal:
                try:
                    result = invariance(model, part, _GROUP, missing="listwise", rule=rule, ordered=items,
                                        **fit_options)
                    method = ORDINAL
                except DataError as exc:  # e.g. an answer category nobody chose in one group
                    empty = "categor" in str(getattr(exc, "what", exc))
                    fallback.append((label_of[construct.id], empty))
            if result is None:
                result = invariance(model, part, _GROUP, missing=missing, rule=rule, **fit_options)
        except TandemError as exc:  # the reason in general words: a data error may name a count of cases
            why = ("the answers do not allow it, e.g. an item without variance or too few complete answers in a "
                   "group" if isinstance(exc, DataError) else "the model cannot be estimated in these groups")
            skipped.append(f"{label_of[construct.id]}: not compared ({why}).")
            continue
        name = {"construct": construct.id, "label": label_of[construct.id], "method": method}
        results[construct.id] = result
        tables.append(result.table.assign(**name))
        levels.append({**name, "level": result.level, "comparable": result.comparable,
                       "released": "; ".join(result.group_partial), "reason": result.reason})
        if result.latent is not None:
            latents.append(result.latent.rename(columns={"factor": "construct"}).assign(label=name["label"]))
    table = pd.concat(tables, ignore_index=True)[TABLE_COLUMNS] if tables else pd.DataFrame(columns=TABLE_COLUMNS)
    level_table = pd.DataFrame(levels, columns=LEVEL_COLUMNS)
    latent = (pd.concat(latents, ignore_index=True)[LATENT_COLUMNS] if latents
              else pd.DataFrame(columns=LATENT_COLUMNS))
    answers = {g: (_question(by, g, reference), _answer(by, g, reference, level_table, results, instrument))
               for g in order[1:]}
    answers.update(waiting)
    short = [c.id for c in instrument.constructs if 0 < len(c.items) < 3 and (constructs is None or c.id in constructs)]
    if short:
        skipped.append("Not checked (fewer than three items, not identified on their own): "
                       + ", ".join(label_of[c] for c in short) + ".")
    partly = [n for n, state in zip(groups["note"], groups["status"], strict=True) if state == "used" and n]
    method = _method_sentence(level_table, fallback, max_categories)
    sentences = (*(f"{q} {a}" for q, a in answers.values()), *method, *partly, *skipped)
    return InstrumentInvariance(view.side, by, reference, groups, table, level_table, latent, answers,
                                tuple(sentences))


def health_invariance(view: SideView, **options: Any) -> dict[str, InstrumentInvariance]:
    """:func:`measurement_invariance` across languages and across waves (the health page
    and the report); ``options`` go to it."""
    return {by: measurement_invariance(view, by=by, **options) for by in BY}


def _constructs(instrument: Any, wanted: Sequence[str] | None) -> list[Any]:
    known = {c.id: c for c in instrument.constructs}
    if wanted is not None:
        unknown = [c for c in wanted if c not in known]
        if unknown:
            from surveys.errors import did_you_mean

            raise TandemError(f"no construct '{unknown[0]}'.{did_you_mean(unknown[0], list(known))}",
                              where="measurement_invariance(constructs=...)",
                              fix="give construct ids of the instrument.")
    return [c for c in instrument.constructs if len(c.items) >= 3 and (wanted is None or c.id in wanted)]


def _labels(instrument: Any) -> dict[str, str]:
    return {c.id: instrument.text(c.label) or c.id for c in instrument.constructs}


def _question(by: str, group: str, reference: str) -> str:
    return BY[by].format(group=group_name(by, group), reference=group_name(by, reference))


def _one_group(by: str, groups: Sequence[str], view: SideView) -> str:
    """Why nothing was compared when the view holds one group (or none) of ``by``."""
    if by == "wave":
        return ("Not yet: the responses shown come from one wave; the question can be answered from the "
                "second wave on.")
    lang = groups[0] if groups else view.instrument.default_language
    return f"Not yet: all responses shown are in {group_name(by, lang)}."


def _item_change(result: Any, term: str, group: str, instrument: Any) -> str:
    """What a released term means for a group: '"q12" (intercept 0.35 higher)'."""
    fit = result.fits[result.final]
    est = fit.estimates
    if "=~" in term:
        factor, item = (t.strip() for t in term.split("=~"))
        rows = est[(est.lhs == factor) & (est.op == "=~") & (est.rhs == item)].set_index("group")["est"]
        what = f"it relates to the construct differently (loading {rows[group]:.2f} against {rows.iloc[0]:.2f})"
    else:
        item = term.replace("~ 1", "").strip()
        rows = est[(est.lhs == item) & (est.op == "~1")].set_index("group")["est"]
        diff = rows[group] - rows.iloc[0]
        what = (f"it is answered {abs(diff):.2f} points {'higher' if diff > 0 else 'lower'} at the same level "
                "of the construct")
    try:
        text = instrument.text(instrument.item(item).text)
    except TandemError:
        text = ""
    quoted = f"item {item}" + (f' ("{text}")' if text else "")
    return f"{quoted}: {what}"


def _method_sentence(levels: pd.DataFrame, fallback: Sequence[tuple[str, bool]],
                     max_categories: int) -> tuple[str, ...]:
    """How the ordinal constructs were fitted, and which fell back to continuous (none when
    every construct is continuous by its items)."""
    out = []
    ordinal = levels.loc[levels["method"] == ORDINAL, "label"].tolist()
    if ordinal:
        which = "every construct" if len(ordinal) == len(levels) else ", ".join(ordinal)
        out.append(f"Ordinal items (at most {max_categories} answer categories): {which} fitted by WLSMV on the "
                   "polychoric correlations, with the thresholds tied at the scalar step and each step judged by "
                   "the scaled CFI; the search for single items that read differently is off for them (its score "
                   "tests need a likelihood), so where scalar invariance fails no item is named.")
    for empty, why in ((True, "an answer category is not chosen in every group, which the ordinal model needs"),
                       (False, "the answers do not allow the ordinal model in these groups")):
        labels = [label for label, kind in fallback if kind is empty]
        if labels:
            out.append(f"Fitted as continuous (ML) instead: {', '.join(labels)}, because {why}.")
    return tuple(out)


def _what(labels: Sequence[str], levels: pd.DataFrame) -> str:
    """What the scalar step ties for these constructs: intercepts, thresholds, or both."""
    methods = set(levels.loc[levels["label"].isin(labels), "method"])
    if methods == {ORDINAL}:
        return "thresholds"
    return "intercepts (thresholds of ordinal items)" if ORDINAL in methods else "intercepts"


def _answer(by: str, group: str, reference: str, levels: pd.DataFrame, results: Mapping[str, Any],
            instrument: Any) -> str:
    """The answer in words for one group against the reference, over the constructs."""
    if levels.empty:
        return "Not yet: no construct could be fitted in both groups."
    ref, other = group_name(by, reference), group_name(by, group)
    full = levels[levels["level"] == "scalar"]
    partial = levels[levels["level"] == "partial scalar"]
    failed = levels[~levels["comparable"].astype(bool)]
    if len(full) == len(levels):
        worst = min(float(r.table.loc[r.table["model"] == "scalar", "delta_cfi"].iloc[0]) for r in results.values())
        n_ordinal = int((levels["method"] == ORDINAL).sum())
        how = ("" if not n_ordinal else "; ordinal items by WLSMV, scaled CFI" if n_ordinal == len(levels)
               else f"; {n_ordinal} of them ordinal, by WLSMV and the scaled CFI")
        return (f"Yes: loadings and {_what(levels['label'], levels)} are equal across {ref} and {other} (scalar "
                f"invariance in {_count(len(levels), 'construct')}{how}; ΔCFI no worse than {_signed(worst)}). "
                "Mean differences in the constructs can be compared.")
    parts = []
    for _, row in partial.iterrows():
        result = results[row["construct"]]
        changes = [_item_change(result, t, group, instrument) for t in result.group_partial]
        final = result.table[result.table["model"] == result.final].iloc[0]
        parts.append(f"in {row['label']}, " + "; ".join(changes)
                     + f" (partial scalar invariance once released: ΔCFI {_signed(float(final['delta_cfi']))})")
    text = ""
    if len(partial):
        text = (f"Partly: {' — '.join(parts)} in {other}. For "
                f"{', '.join(partial['label'])}, compare latent means, not raw scores.")
    if len(failed):
        lead = "No" if not len(partial) and not len(full) else "Not for all"
        metric = failed[failed["level"].isin(["metric", "partial metric"])]["label"].tolist()
        none = failed[failed["level"] == "configural"]["label"].tolist()
        bits = []
        if metric:
            ordinal = any(_what([m], levels) == "thresholds" for m in metric)
            named = ("; ordinal items, by WLSMV and the scaled CFI, so no single item is named" if ordinal else "")
            bits.append(f"in {', '.join(metric)} the {_what(metric, levels)} differ (the items mean the same, but "
                        f"equal construct levels give different answers{named})")
        if none:
            bits.append(f"in {', '.join(none)} the loadings differ (the items do not measure the same thing)")
        text += (" " if text else "") + (f"{lead}: {'; '.join(bits)} between {ref} and {other}: do not compare "
                                         "those constructs' scores or means between them.")
    if len(full):
        text += f" The other constructs ({', '.join(full['label'])}) are fully invariant."
    return text.strip()


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _signed(value: float) -> str:
    """A ΔCFI as people write it: −.004 (a minus sign, no leading zero)."""
    if not np.isfinite(value):
        return "n/a"
    text = f"{abs(value):.3f}".lstrip("0")
    return ("−" if value < 0 else "+" if value > 0 else "") + text
