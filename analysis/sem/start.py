"""Start values close to lavaan's (``start = "default"``).

Loadings by a FABIN-like instrumental-variable estimate from the marker indicator
(Hägglund 1982; lavaan ``lav_start``), latent variances from the marker's covariances,
residual variances half the observed variance, intercepts at the sample means,
regressions and covariances 0. ``simple=True`` is lavaan's ``start = "simple"``
(loadings 1, latent variances 0.05), the second try when a fit does not converge.
"""

from __future__ import annotations

import numpy as np

from analysis.sem.partable import ParameterTable
from analysis.sem.samplestats import GroupStats


def start_values(table: ParameterTable, data: list[GroupStats], *, simple: bool = False) -> np.ndarray:
    """Start values of the free parameters (user ``start()`` values win)."""
    rows, st, npar = table.rows, table.structure, table.npar
    x = np.zeros(npar)
    seen = np.zeros(npar, dtype=bool)
    ov_i = {v: i for i, v in enumerate(st.ov)}
    indicators: dict[tuple[int, str], list[str]] = {}
    for r in rows:
        if r.op == "=~" and r.rhs in ov_i:
            indicators.setdefault((r.group, r.lhs), []).append(r.rhs)
    loading_start: dict[tuple[int, str, str], float] = {}
    latent_var: dict[tuple[int, str], float] = {}
    for (g, f), items in ([] if simple else indicators.items()):
        s = data[g].cov
        marker = items[0]
        lam = {marker: 1.0}
        for j in items[1:]:
            others = [ov_i[k] for k in items if k not in (marker, j)]
            if others:
                num = float(s[ov_i[j], others] @ s[ov_i[marker], others])
                den = float(s[ov_i[marker], others] @ s[ov_i[marker], others])
                lam[j] = num / den if den > 0 else 1.0
            else:
                lam[j] = 1.0
        for j in items:
            loading_start[(g, f, j)] = lam[j]
        cov_mk = [s[ov_i[marker], ov_i[k]] * lam[k] for k in items[1:]]
        l2 = sum(lam[k] ** 2 for k in items[1:])
        latent_var[(g, f)] = max(0.05, sum(cov_mk) / l2) if l2 > 0 else 0.05
    for r in rows:
        if r.pid < 0 or seen[r.pid]:
            continue
        seen[r.pid] = True
        d = data[r.group]
        if r.start_given:
            val = r.value
        elif r.op == "=~":
            val = loading_start.get((r.group, r.lhs, r.rhs), 1.0)
        elif r.op == "~~" and r.lhs in st.exo_x and r.rhs in st.exo_x:  # fixed.x = FALSE
            val = d.cov[ov_i[r.lhs], ov_i[r.rhs]]
        elif r.op == "~~" and r.lhs == r.rhs:
            if r.lhs in ov_i:
                val = 0.5 * d.cov[ov_i[r.lhs], ov_i[r.lhs]]
            else:
                val = latent_var.get((r.group, r.lhs), 0.05)
        elif r.op == "~1" and r.lhs in ov_i:
            val = d.mean[ov_i[r.lhs]]
        else:
            val = 0.0
        x[r.pid] = val
    return x


