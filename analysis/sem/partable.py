"""The parameter table: every parameter of a model, free or fixed, and the one place that
counts them.

:func:`build_table` is lavaan's ``lavaanify`` with the defaults of ``sem()``: one
:class:`ParameterRow` per parameter and group, with its matrix position in the LISREL
all-y representation (:mod:`analysis.sem.matrices`) and its parameter id (``pid``; rows
tied by a shared label, ``==`` or ``group_equal`` share one id). :class:`ParameterTable`
is the only source of the number of free parameters (``npar``), of sample moments
(``ndat``) and of degrees of freedom (``df``): the fit, the fit measures, the linkage
"too few units" check and the power analysis all read them here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from analysis.errors import ModelSpecificationError
from analysis.sem.syntax import ModelSyntax, Statement, parse_model
from surveys.errors import did_you_mean

GROUP_EQUAL = ("loadings", "intercepts", "residuals", "residual.covariances", "lv.variances",
               "lv.covariances", "regressions", "means")
#: ``group_equal`` classes of a WLSMV model: ``"thresholds"`` ties the thresholds across groups
#: and, as lavaan, frees the scale factors (``~*~``) and latent means of the later groups.
ORDINAL_GROUP_EQUAL = (*GROUP_EQUAL, "thresholds")
MATRICES = ("lambda", "beta", "psi", "theta", "nu", "alpha")
SYMMETRIC = frozenset({"psi", "theta"})
_T = TypeVar("_T")
_PARTIAL_THRESHOLD = re.compile(r"^\s*([A-Za-z_.][A-Za-z0-9_.]*)\s*\|\s*(t[0-9]+)\s*$")
_PARTIAL = re.compile(r"^\s*([A-Za-z_.][A-Za-z0-9_.]*)\s*(=~|~~|~)\s*([A-Za-z0-9_.]+)\s*$")


@dataclass
class ParameterRow:
    """One row of the parameter table (lavaan's ``parTable``)."""

    lhs: str
    op: str
    rhs: str
    group: int
    matrix: str
    r: int
    c: int
    free: bool
    value: float            # fixed value, or start value of a free parameter
    label: str = ""
    user: bool = False
    category: str = ""
    fixed_x: str = ""       # "cov" / "mean": fixed at the sample moment (fixed.x = TRUE)
    pid: int = -1
    start_given: bool = False

    @property
    def name(self) -> str:
        """``lhs op rhs`` with ``.gK`` for groups after the first (bootstrap draw columns)."""
        return f"{self.lhs}{self.op}{self.rhs}" + (f".g{self.group + 1}" if self.group else "")


@dataclass(frozen=True)
class Structure:
    """Which variables are observed, latent, "phantom" (observed variables in regressions,
    modelled as latent with loading 1 and no residual), fixed-x covariates and endogenous."""

    ov: list[str]
    eta: list[str]
    latent: list[str]
    phantom: list[str]
    exo_x: list[str]
    endogenous: list[str]


def data_moments(p: int, p_x: int = 0, meanstructure: bool = False) -> int:
    """Number of sample moments of one group that the model must reproduce.

    ``p(p+1)/2`` variances and covariances plus ``p`` means with a mean structure, less
    those of the ``p_x`` exogenous covariates held at their sample values (fixed.x).
    """
    count = p * (p + 1) // 2 - p_x * (p_x + 1) // 2
    if meanstructure:
        count += p - p_x
    return count


@dataclass
class ParameterTable:
    """The rows of a model and its counts.

    Attributes
    ----------
    rows
        Every parameter of every group, user-specified first, then lavaan's defaults.
    structure
        The variables (:class:`Structure`).
    n_groups, meanstructure, group_equal
        As fitted.
    npar
        Number of free parameters (distinct parameter ids).
    """

    syntax: ModelSyntax
    rows: list[ParameterRow]
    structure: Structure
    n_groups: int
    meanstructure: bool
    group_equal: tuple[str, ...]
    npar: int
    fixed_x: bool = True
    ordered: tuple[str, ...] = ()
    thresholds: list[ParameterRow] = field(default_factory=list)
    scales: list[ParameterRow] = field(default_factory=list)
    parameterization: str = "delta"
    _free_rows: dict[int, ParameterRow] = field(default_factory=dict, repr=False)

    @property
    def ndat(self) -> int:
        """Sample moments over all groups (fixed-x moments not counted). With ordered
        indicators (WLSMV): the thresholds, the means and variances of continuous variables
        and the ``p(p-1)/2`` polychoric (polyserial, Pearson) correlations of each group
        (lavaan's ``ntotal`` of the WLS statistics)."""
        st = self.structure
        if self.ordered:
            p, p_num = len(st.ov), len(st.ov) - len(self.ordered)
            return len(self.thresholds) + (p * (p - 1) // 2 + 2 * p_num) * self.n_groups
        return data_moments(len(st.ov), len(self.fixed_exo), self.meanstructure) * self.n_groups

    @property
    def fixed_exo(self) -> list[str]:
        """The exogenous covariates held at their sample moments (none with ``fixed_x=False``)."""
        return list(self.structure.exo_x) if self.fixed_x else []

    @property
    def df(self) -> int:
        """Degrees of freedom of the model test: ``ndat - npar``."""
        return self.ndat - self.npar

    @property
    def baseline_df(self) -> int:
        """Degrees of freedom of the independence (baseline) model: the covariances among
        the observed variables that are not fixed-x covariates, per group."""
        p, p_x = len(self.structure.ov), len(self.structure.exo_x)
        return (p * (p - 1) // 2 - p_x * (p_x - 1) // 2) * self.n_groups

    def row_of(self, pid: int) -> ParameterRow:
        """The first row carrying parameter ``pid``."""
        if not self._free_rows:
            for r in self.rows + self.thresholds + self.scales:
                if r.pid >= 0:
                    self._free_rows.setdefault(r.pid, r)
        return self._free_rows[pid]

    def check_identified(self) -> None:
        """The counting rule: no more free parameters than sample moments."""
        if self.npar > self.ndat:
            raise ModelSpecificationError(
                f"the model is not identified: {self.npar} free parameters but only {self.ndat} sample moments",
                where="model", fix="remove parameters or add constraints")


def uses_meanstructure(syntax: ModelSyntax, *, n_groups: int = 1, missing: str = "listwise") -> bool:
    """lavaan's default: a mean structure with FIML, groups, or ``~ 1`` terms."""
    return missing == "fiml" or n_groups > 1 or any(s.op == "~" and s.rhs == "1" for s in syntax.statements)


def build_table(syntax: ModelSyntax, *, n_groups: int = 1, meanstructure: bool = False,
                group_equal: tuple[str, ...] = (), fixed_x: bool = True,
                group_partial: tuple[str, ...] = (),
                thresholds: Sequence[dict[str, Sequence[float]]] = (),
                parameterization: str = "delta") -> ParameterTable:
    """The parameter table of a parsed model (lavaan ``lavaanify`` with ``sem()``'s defaults).

    ``thresholds`` (ordinal indicators, WLSMV): per group, each ordered variable's sample
    thresholds. They become free ``|`` rows (``x1 | t1`` ...; start values the sample
    thresholds), numbered after the other parameters, and the ordered variables' residual
    variances and intercepts become fixed rows (delta parameterization: ``theta_ii =
    1/Delta_i^2 - diag(Lambda Psi Lambda')_ii``, computed by
    :class:`analysis.sem.dwls.DeltaModel`; intercepts 0), as lavaan's
    ``lavaanify(ordered = ...)``. Each group gets lavaan's scale-factor rows
    ``x1 ~*~ x1`` (``Delta``), fixed at 1 except, with ``"thresholds"`` in ``group_equal``
    (thresholds tied across groups), in the groups after the first, where they are free
    (and so are the latent means, as with equal intercepts); ``group_partial`` terms such
    as ``"x3 | t1"`` keep single thresholds free. ``parameterization="theta"``
    (lavaan's): the ordered variables' residual variances are fixed at 1 instead (free in
    the later groups when the thresholds are tied) and the scale factors are derived,
    ``Delta_i = 1 / sqrt(Sigma*_ii)`` (fixed ``~*~`` rows, as lavaan reports them).

    Raises
    ------
    ModelSpecificationError
        Doubly specified terms, unknown labels in ``==`` or ``:=``, wrong ``c(...)`` lengths;
        a free residual variance of an ordered variable (not identified in the delta
        parameterization).
    """
    st = structure_of(syntax)
    rows = _build_rows(syntax, st, n_groups, meanstructure, group_equal, fixed_x)
    ordered = tuple(v for v in st.ov if thresholds and v in thresholds[0])
    theta = parameterization == "theta"
    if ordered:
        _fix_ordinal_residuals(rows, syntax, ordered, free_later="thresholds" in group_equal and theta)
    free_thresholds = {m.groups() for m in map(_PARTIAL_THRESHOLD.match, group_partial) if m}
    unknown = [f"{v} | {t}" for v, t in free_thresholds if v not in ordered]
    if unknown:
        raise ModelSpecificationError(f"group_partial term '{unknown[0]}' is not a threshold of an ordered variable",
                                      where="fit(group_partial=...)", fix="name a threshold, e.g. 'x3 | t1'")
    core_partial = tuple(t for t in group_partial if not _PARTIAL_THRESHOLD.match(t))
    npar = _assign_parameters(rows, syntax, group_equal, _partial_keys(core_partial, rows))
    threshold_rows, scale_rows = [], []
    tied = "thresholds" in group_equal
    first: dict[tuple[str, int], int] = {}
    for g, per_group in enumerate(thresholds):
        for v in ordered:
            for k, value in enumerate(per_group[v]):
                if tied and g > 0 and (v, k) in first and (v, f"t{k + 1}") not in free_thresholds:
                    pid = first[(v, k)]
                else:
                    pid, npar = npar, npar + 1
                    first[(v, k)] = pid
                threshold_rows.append(ParameterRow(v, "|", f"t{k + 1}", g, "tau", st.ov.index(v), k, True,
                                                   float(value), category="thresholds", pid=pid))
    for g in range(len(thresholds)):
        for v in ordered:
            free = tied and g > 0 and not theta
            scale_rows.append(ParameterRow(v, "~*~", v, g, "delta", st.ov.index(v), 0, free, 1.0,
                                           category="scales", pid=npar if free else -1))
            npar += int(free)
    known = {r.label for r in rows if r.label} | {d.name for d in syntax.definitions}
    for d in syntax.definitions:
        for name in d.names:
            if name not in known:
                raise ModelSpecificationError(
                    f"defined parameter '{d.name}' uses unknown label '{name}'.{did_you_mean(name, known)}",
                    where=f"model syntax line {d.line}", fix="label the parameter first, e.g. 'y ~ a*x'")
    return ParameterTable(syntax, rows, st, n_groups, meanstructure, tuple(group_equal), npar, fixed_x,
                          ordered, threshold_rows, scale_rows, parameterization)


def _fix_ordinal_residuals(rows: list[ParameterRow], syntax: ModelSyntax, ordered: tuple[str, ...], *,
                           free_later: bool = False) -> None:
    """The residual variances of ordered variables are not parameters (delta: lavaan derives
    them as ``1/Delta^2 - diag(Lambda Psi Lambda')``; theta: fixed at 1, free in the groups
    after the first with ``free_later``); their intercepts are 0 (the thresholds carry the
    location)."""
    names = set(ordered)
    for r in rows:
        if r.op == "~1" and r.lhs in names and r.matrix == "nu":
            if r.user and r.free:
                raise ModelSpecificationError(
                    f"the intercept of ordered variable '{r.lhs}' cannot be a free parameter (its thresholds are)",
                    where=f"model syntax: {r.lhs} ~ 1", fix="remove the term")
            r.free, r.value = False, 0.0
        if r.op == "~~" and r.lhs == r.rhs and r.lhs in names and r.matrix == "theta":
            stmt = next((s for s in syntax.statements if s.op == "~~" and s.lhs == r.lhs and s.rhs == r.rhs), None)
            if stmt is not None and r.free:
                raise ModelSpecificationError(
                    f"the residual variance of ordered variable '{r.lhs}' cannot be a free parameter in the "
                    "delta parameterization (the latent response has variance 1)",
                    where=f"model syntax line {stmt.line}: {r.lhs} ~~ {r.rhs}",
                    fix="remove the term (it is fixed at 1 - explained variance), or treat the variable as continuous")
            r.free, r.value = free_later and r.group > 0, 1.0


def count_parameters(model: str, *, n_groups: int = 1, missing: str = "listwise",
                     group_equal: tuple[str, ...] = (), fixed_x: bool = True,
                     group_partial: tuple[str, ...] = ()) -> ParameterTable:
    """The parameter table of model syntax without data: what :func:`analysis.sem.fit`
    will estimate (``npar``, ``ndat``, ``df``), for checks before fitting. Two-level syntax
    (``level:`` blocks) is refused here with a pointer to
    :func:`analysis.sem.twolevel.count_parameters` (per-level counts)."""
    if re.search(r"(?im)^\s*level\s*:", model):
        raise ModelSpecificationError("count_parameters() counts one-level models; this model has 'level:' blocks",
                                      where="model syntax",
                                      fix="use analysis.sem.twolevel.count_parameters(model) for per-level counts")
    syntax = parse_model(model)
    return build_table(syntax, n_groups=n_groups, group_equal=tuple(group_equal), fixed_x=fixed_x,
                       group_partial=tuple(group_partial),
                       meanstructure=uses_meanstructure(syntax, n_groups=n_groups, missing=missing))


def structure_of(syntax: ModelSyntax) -> Structure:
    latent = list(syntax.latent_names)
    ov = [v for v in syntax.variable_names if v not in latent]
    reg = [s for s in syntax.statements if s.op == "~" and s.rhs != "1"]
    phantom = {v for s in reg for v in (s.lhs, s.rhs) if v in ov}
    indicators = {s.rhs for s in syntax.statements if s.op == "=~"}
    changed = True
    while changed:  # a covariance between a phantom/latent and an indicator makes both phantom
        changed = False
        for s in syntax.statements:
            if s.op == "~~" and s.lhs != s.rhs:
                a, b = s.lhs, s.rhs
                eta_like = [v in phantom or v in latent for v in (a, b)]
                if any(eta_like) and not all(eta_like):
                    phantom.update(v for v in (a, b) if v in ov)
                    changed = True
    dependents = {s.lhs for s in reg}
    exo_x = [v for v in ov if v in phantom and v not in dependents and v not in indicators]
    endogenous = [v for v in latent + [o for o in ov if o in phantom]
                  if v in dependents or (v in indicators and (v in latent or v in phantom))]
    phantom_list = [v for v in ov if v in phantom]
    return Structure(ov, latent + phantom_list, latent, phantom_list, exo_x, endogenous)




def _modifier(values: tuple[_T, ...], g: int, n_groups: int, stmt: Statement) -> _T:
    if len(values) == 1:
        return values[0]
    if len(values) != n_groups:
        raise ModelSpecificationError(
            f"c(...) has {len(values)} values but there are {n_groups} groups",
            where=f"model syntax line {stmt.line}: {stmt.lhs} {stmt.op} {stmt.rhs}",
            fix="give one value per group (or a single value for all groups)")
    return values[g]


def _build_rows(syntax: ModelSyntax, st: Structure, n_groups: int, meanstructure: bool,
                group_equal: tuple[str, ...], fixed_x: bool = True) -> list[ParameterRow]:
    """lavaan's parameter table (``lavaanify`` with the defaults of ``sem()``)."""
    eta_i = {v: i for i, v in enumerate(st.eta)}
    ov_i = {v: i for i, v in enumerate(st.ov)}
    rows: list[ParameterRow] = []
    for g in range(n_groups):
        seen: set[tuple[str, str, str]] = set()
        first_indicator: dict[str, str] = {}
        for s in syntax.statements:
            fixed = _modifier(s.fixed, g, n_groups, s)
            label = _modifier(s.label, g, n_groups, s) or ""
            start = _modifier(s.start, g, n_groups, s)
            free_flag = _modifier(s.free, g, n_groups, s)
            key = (s.lhs, "~1", "") if (s.op == "~" and s.rhs == "1") else (s.lhs, s.op, s.rhs)
            if s.op == "~~" and (s.rhs, s.op, s.lhs) in seen:
                key = (s.rhs, s.op, s.lhs)
            if key in seen:
                raise ModelSpecificationError(f"'{s.lhs} {s.op} {s.rhs}' is specified twice",
                                              where=f"model syntax line {s.line}", fix="remove one of them")
            seen.add(key)
            if s.op == "=~":
                if s.rhs in st.latent or s.rhs in st.phantom:
                    mat, r, c, cat = "beta", eta_i[s.rhs], eta_i[s.lhs], "loadings"
                else:
                    mat, r, c, cat = "lambda", ov_i[s.rhs], eta_i[s.lhs], "loadings"
                default_fixed = s.lhs not in first_indicator
                first_indicator.setdefault(s.lhs, s.rhs)
                value = 1.0
            elif s.op == "~" and s.rhs == "1":
                if s.lhs in eta_i:
                    mat, r, c = "alpha", eta_i[s.lhs], 0
                    cat = "means" if s.lhs in st.latent else "intercepts"
                else:
                    mat, r, c, cat = "nu", ov_i[s.lhs], 0, "intercepts"
                default_fixed, value = False, 0.0
            elif s.op == "~":
                mat, r, c, cat = "beta", eta_i[s.lhs], eta_i[s.rhs], "regressions"
                default_fixed, value = False, 0.0
            else:  # ~~
                if s.lhs in eta_i and s.rhs in eta_i:
                    mat, r, c = "psi", eta_i[s.lhs], eta_i[s.rhs]
                    lat = s.lhs in st.latent
                    cat = ("lv.variances" if lat else "residuals") if s.lhs == s.rhs else \
                        ("lv.covariances" if lat else "residual.covariances")
                else:
                    mat, r, c = "theta", ov_i[s.lhs], ov_i[s.rhs]
                    cat = "residuals" if s.lhs == s.rhs else "residual.covariances"
                default_fixed, value = False, (0.0 if s.lhs != s.rhs else 1.0)
            is_free = free_flag or (fixed is None and not (default_fixed and s.op == "=~"))
            if fixed is not None:
                value = fixed
            if start is not None:
                value = start
            rows.append(ParameterRow(key[0], key[1], key[2], g, mat, r, c, bool(is_free), float(value), label, True,
                             cat, start_given=start is not None))
        have = {(r.lhs, r.op, r.rhs) for r in rows if r.group == g}

        def add(lhs: str, op: str, rhs: str, mat: str, r: int, c: int, free: bool, value: float, cat: str,
                fixed_x: str = "", *, g: int = g, have: set[tuple[str, str, str]] = have) -> None:
            if (lhs, op, rhs) in have or (op == "~~" and (rhs, op, lhs) in have):
                return
            have.add((lhs, op, rhs))
            rows.append(ParameterRow(lhs, op, rhs, g, mat, r, c, free, value, "", False, cat, fixed_x))

        # residual variances of observed variables (not fixed-x covariates)
        for v in st.ov:
            if v in st.exo_x:
                continue
            if v in st.phantom:
                add(v, "~~", v, "psi", eta_i[v], eta_i[v], True, 1.0, "residuals")
            else:
                add(v, "~~", v, "theta", ov_i[v], ov_i[v], True, 1.0, "residuals")
        # latent variances and covariances among exogenous latents
        for v in st.latent:
            add(v, "~~", v, "psi", eta_i[v], eta_i[v], True, 0.05, "lv.variances")
        exo_lv = [v for v in st.latent if v not in st.endogenous]
        for i, a in enumerate(exo_lv):
            for b in exo_lv[i + 1:]:
                add(a, "~~", b, "psi", eta_i[a], eta_i[b], True, 0.0, "lv.covariances")
        # auto.cov.y: residual covariances among dependent variables that predict nothing and
        # are not indicators (lavaan's ov.y and lv.y: eqs.y less eqs.x and v.ind)
        predictors = {s.rhs for s in syntax.statements if s.op == "~"}
        indicators = {s.rhs for s in syntax.statements if s.op == "=~"}
        ys = [v for v in st.endogenous if v not in predictors and v not in indicators
              and any(s.op == "~" and s.lhs == v and s.rhs != "1" for s in syntax.statements)]
        for i, a in enumerate(ys):
            for b in ys[i + 1:]:
                add(a, "~~", b, "psi", eta_i[a], eta_i[b], True, 0.0,
                    "lv.covariances" if a in st.latent else "residual.covariances")
        # fixed.x: exogenous covariates at their sample moments (fixed.x = FALSE: free)
        for i, a in enumerate(st.exo_x):
            for b in st.exo_x[i:]:
                if fixed_x:
                    add(a, "~~", b, "psi", eta_i[a], eta_i[b], False, 0.0, "", "cov")
                else:
                    add(a, "~~", b, "psi", eta_i[a], eta_i[b], True, float(a == b), "")
        if meanstructure:
            for v in st.ov:
                if v in st.exo_x and fixed_x:
                    add(v, "~1", "", "alpha", eta_i[v], 0, False, 0.0, "", "mean")
                elif v in st.phantom:
                    add(v, "~1", "", "alpha", eta_i[v], 0, True, 0.0, "intercepts")
                else:
                    add(v, "~1", "", "nu", ov_i[v], 0, True, 0.0, "intercepts")
            for v in st.latent:
                free = g > 0 and ("intercepts" in group_equal or "thresholds" in group_equal) \
                    and "means" not in group_equal
                add(v, "~1", "", "alpha", eta_i[v], 0, free, 0.0, "means")
    return rows


def _partial_keys(group_partial: tuple[str, ...], rows: list[ParameterRow]) -> set[tuple[str, str, str]]:
    """lavaan ``group.partial`` terms (``"x3 ~ 1"``, ``"visual =~ x2"``, ``"x1 ~~ x1"``) as row keys."""
    keys: set[tuple[str, str, str]] = set()
    have = {(r.lhs, r.op, r.rhs) for r in rows}
    for term in group_partial:
        m = _PARTIAL.match(term)
        if not m:
            raise ModelSpecificationError(f"group_partial term '{term}' is not 'lhs op rhs'",
                                          where="fit(group_partial=...)", fix="write e.g. 'x3 ~ 1' or 'visual =~ x2'")
        lhs, op, rhs = m.groups()
        key = (lhs, "~1", "") if (op == "~" and rhs == "1") else (lhs, op, rhs)
        candidates = [key, (rhs, op, lhs)] if op == "~~" else [key]
        found = [k for k in candidates if k in have]
        if not found:
            raise ModelSpecificationError(f"group_partial term '{term}' is not a parameter of the model",
                                          where="fit(group_partial=...)", fix="name a parameter of the model")
        keys.update(found)
    return keys


class DisjointSets:
    """Union-find over comparable items (row indices, ``(level, pid)``): which parameters
    are one, through shared labels, ``==`` constraints and ``group_equal``. Each set is
    represented by its smallest member."""

    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, item):
        """The representative of ``item``'s set."""
        while self.parent.get(item, item) != item:
            item = self.parent[item]
        return item

    def union(self, a, b) -> None:
        """Join the sets of ``a`` and ``b``."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _assign_parameters(rows: list[ParameterRow], syntax: ModelSyntax, group_equal: tuple[str, ...],
                       partial: set[tuple[str, str, str]] | None = None) -> int:
    """Give free rows parameter ids; shared labels, ``==`` and ``group_equal`` share one id
    (except the ``partial`` rows, lavaan ``group.partial``)."""
    partial = partial or set()
    tied = DisjointSets()
    find, union = tied.find, tied.union
    by_label: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        if r.label:
            by_label.setdefault(r.label, []).append(i)
    for idx in by_label.values():
        for j in idx[1:]:
            union(idx[0], j)
    by_key: dict[tuple, int] = {}
    for i, r in enumerate(rows):
        if r.group == 0:
            by_key[(r.lhs, r.op, r.rhs)] = i
    for i, r in enumerate(rows):
        if r.group > 0 and r.free and not r.label and r.category in group_equal \
                and (r.lhs, r.op, r.rhs) not in partial:
            j = by_key.get((r.lhs, r.op, r.rhs))
            if j is not None and rows[j].free:
                union(j, i)
    defined = {d.name for d in syntax.definitions}
    for con in syntax.constraints:
        for side in (con.lhs, con.rhs):
            if not _is_number(side) and side not in by_label and side not in defined:
                raise ModelSpecificationError(
                    f"equality constraint uses unknown label '{side}'.{did_you_mean(side, by_label)}",
                    where=f"model syntax line {con.line}", fix="label the parameter first, e.g. 'y ~ a*x'")
        if _is_number(con.lhs) or _is_number(con.rhs):
            label, number = (con.lhs, con.rhs) if _is_number(con.rhs) else (con.rhs, con.lhs)
            for i in by_label[label]:
                rows[i].free, rows[i].value = False, float(number)
        else:
            union(by_label[con.lhs][0], by_label[con.rhs][0])
    # a tied group with a fixed member is fixed at that value
    groups: dict[int, list[int]] = {}
    for i in range(len(rows)):
        groups.setdefault(find(i), []).append(i)
    pid = 0
    for members in sorted(groups.values(), key=min):
        fixed = [rows[i] for i in members if not rows[i].free]
        if fixed:
            for i in members:
                rows[i].free, rows[i].value, rows[i].pid = False, fixed[0].value, -1
            continue
        for i in members:
            rows[i].pid = pid
        pid += 1
    return pid


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


