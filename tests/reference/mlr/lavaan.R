# lavaan's cluster-robust (MLR) fits of two two-level models (tests/test_sem_mlr.py).
# Run from the repository root: Rscript tests/reference/mlr/lavaan.R
suppressMessages(library(lavaan))
here <- "tests/reference/mlr/"
d <- Demo.twolevel[, c("y1", "y2", "y3", "x1", "x2", "w1", "w2", "cluster")]
d[] <- lapply(d, signif, 10)
write.csv(d, paste0(here, "demo_twolevel.csv"), row.names = FALSE, quote = FALSE)
d <- read.csv(paste0(here, "demo_twolevel.csv"))
models <- list(
  cfa = "level: 1\n fw =~ y1 + y2 + y3\nlevel: 2\n fb =~ y1 + y2 + y3\n fb ~ w1",
  covariates = "level: 1\n fw =~ y1 + y2 + y3\n fw ~ x1 + x2\nlevel: 2\n fb =~ y1 + y2 + y3\n fb ~ w1 + w2")
out <- NULL
fit <- NULL
for (name in names(models)) {
  f <- sem(models[[name]], d, cluster = "cluster", estimator = "MLR", fixed.x = FALSE)
  pe <- parameterEstimates(f)
  pe <- pe[pe$se > 0, c("lhs", "op", "rhs", "level", "est", "se")]
  out <- rbind(out, cbind(model = name, pe))
  fm <- fitMeasures(f, c("logl", "chisq", "df", "chisq.scaled", "chisq.scaling.factor", "pvalue.scaled"))
  fit <- rbind(fit, data.frame(model = name, measure = names(fm), value = as.numeric(fm)))
}
write.csv(fit, paste0(here, "fit.csv"), row.names = FALSE)
write.csv(out, paste0(here, "estimates.csv"), row.names = FALSE)
cat("lavaan", as.character(packageVersion("lavaan")), "\n")
