# lavaan's two-level FIML (missing = "ml") fits of models on Demo.twolevel with values deleted
# at random (tests/test_sem_twolevel_fiml.py). Run from the repository root:
#   Rscript tests/reference/twolevel_fiml/lavaan.R
# (prints the lavaan version; the committed files are from lavaan 0.6.14).
# Deleted (seed 20261203): 10% of each of y1..y6 and 5% of x1, x2 at random (never a whole row);
# the between-only w1 for 8% of the clusters (all their rows: it is one value per cluster).
suppressMessages(library(lavaan))
here <- "tests/reference/twolevel_fiml/"
set.seed(20261203)
d <- Demo.twolevel[, c("y1", "y2", "y3", "y4", "y5", "y6", "x1", "x2", "w1", "w2", "cluster")]
d[] <- lapply(d, signif, 10)
n <- nrow(d)
for (v in paste0("y", 1:6)) d[sample(n, round(0.10 * n)), v] <- NA
for (v in c("x1", "x2")) d[sample(n, round(0.05 * n)), v] <- NA
clusters <- unique(d$cluster)
gone <- sample(clusters, round(0.08 * length(clusters)))
d$w1[d$cluster %in% gone] <- NA
write.csv(d, paste0(here, "demo_twolevel_missing.csv"), row.names = FALSE, quote = FALSE, na = "")
d <- read.csv(paste0(here, "demo_twolevel_missing.csv"))
models <- list(
  cfa = "level: 1\n fw =~ y1 + y2 + y3\nlevel: 2\n fb =~ y1 + y2 + y3\n fb ~ w1",
  cfa6 = "level: 1\n fw1 =~ y1 + y2 + y3\n fw2 =~ y4 + y5 + y6\nlevel: 2\n fb1 =~ y1 + y2 + y3\n fb2 =~ y4 + y5 + y6",
  covariates = "level: 1\n fw =~ y1 + y2 + y3\n fw ~ x1 + x2\nlevel: 2\n fb =~ y1 + y2 + y3\n fb ~ w1 + w2")
measures <- c("npar", "logl", "unrestricted.logl", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df",
              "cfi", "tli", "rmsea", "srmr_within", "srmr_between", "aic", "bic", "ntotal")
out <- NULL
fit <- NULL
for (name in names(models)) {
  f <- sem(models[[name]], d, cluster = "cluster", missing = "ml", fixed.x = FALSE)
  pe <- parameterEstimates(f)
  pe <- pe[pe$se > 0, c("lhs", "op", "rhs", "level", "est", "se")]
  out <- rbind(out, cbind(model = name, pe))
  fm <- fitMeasures(f, measures)
  fit <- rbind(fit, data.frame(model = name, measure = c(names(fm), "lavaan.version", "information"),
                               value = c(as.character(as.numeric(fm)), as.character(packageVersion("lavaan")),
                                         lavInspect(f, "options")$information[1])))
}
write.csv(fit, paste0(here, "fit.csv"), row.names = FALSE)
write.csv(out, paste0(here, "estimates.csv"), row.names = FALSE)
cat("lavaan", as.character(packageVersion("lavaan")), "\n")
