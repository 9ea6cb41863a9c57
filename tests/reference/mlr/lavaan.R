# lavaan's cluster-robust (MLR) fits of four two-level models (tests/test_sem_mlr.py).
# Run from the repository root: Rscript tests/reference/mlr/lavaan.R (prints the lavaan version;
# the committed files are from lavaan 0.6.14).
# "equal_loadings" (within loadings fixed at 1) misfits on purpose: its CFI/TLI/RMSEA are away
# from their bounds, so the scaled and robust indices are checked where they can differ;
# "equal_loadings_fixed_x" is that model with the between-only covariate w1 fixed (fixed.x).
suppressMessages(library(lavaan))
here <- "tests/reference/mlr/"
d <- Demo.twolevel[, c("y1", "y2", "y3", "x1", "x2", "w1", "w2", "cluster")]
d[] <- lapply(d, signif, 10)
write.csv(d, paste0(here, "demo_twolevel.csv"), row.names = FALSE, quote = FALSE)
d <- read.csv(paste0(here, "demo_twolevel.csv"))
models <- list(
  cfa = "level: 1\n fw =~ y1 + y2 + y3\nlevel: 2\n fb =~ y1 + y2 + y3\n fb ~ w1",
  covariates = "level: 1\n fw =~ y1 + y2 + y3\n fw ~ x1 + x2\nlevel: 2\n fb =~ y1 + y2 + y3\n fb ~ w1 + w2",
  equal_loadings = "level: 1\n fw =~ 1*y1 + 1*y2 + 1*y3\nlevel: 2\n fb =~ y1 + y2 + y3\n fb ~ w1")
models$equal_loadings_fixed_x <- models$equal_loadings  # the same with w1 (between-only) fixed.x
fixed_x <- c(cfa = FALSE, covariates = FALSE, equal_loadings = FALSE, equal_loadings_fixed_x = TRUE)
measures <- c("logl", "chisq", "df", "chisq.scaled", "chisq.scaling.factor", "pvalue.scaled",
              # the scaled and robust fit indices (lav_fit_cfi_lavobject, lav_fit_rmsea_lavobject)
              "df.scaled", "baseline.chisq", "baseline.df", "baseline.chisq.scaled",
              "baseline.df.scaled", "baseline.pvalue.scaled", "baseline.chisq.scaling.factor",
              "cfi", "tli", "cfi.scaled", "tli.scaled", "cfi.robust", "tli.robust",
              "rmsea", "rmsea.scaled", "rmsea.ci.lower.scaled", "rmsea.ci.upper.scaled",
              "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust")
out <- NULL
fit <- NULL
for (name in names(models)) {
  f <- sem(models[[name]], d, cluster = "cluster", estimator = "MLR", fixed.x = fixed_x[[name]])
  pe <- parameterEstimates(f)
  pe <- pe[pe$se > 0, c("lhs", "op", "rhs", "level", "est", "se")]
  out <- rbind(out, cbind(model = name, pe))
  fm <- fitMeasures(f, measures)
  fit <- rbind(fit, data.frame(model = name, measure = names(fm), value = as.numeric(fm)))
}
write.csv(fit, paste0(here, "fit.csv"), row.names = FALSE)
write.csv(out, paste0(here, "estimates.csv"), row.names = FALSE)
cat("lavaan", as.character(packageVersion("lavaan")), "\n")
