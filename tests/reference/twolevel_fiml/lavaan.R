# lavaan's two-level FIML (missing = "ml") fits of models on Demo.twolevel with values deleted
# at random (tests/test_sem_twolevel_fiml.py). Run from the repository root:
#   Rscript tests/reference/twolevel_fiml/lavaan.R
# (prints the lavaan version; the committed files are from lavaan 0.6.14).
# Deleted (seed 20261203): 10% of each of y1..y6 and 5% of x1, x2 at random (never a whole row);
# the between-only w1 for 8% of the clusters (all their rows: it is one value per cluster).
# Writes demo_twolevel_missing.csv, estimates.csv, fit.csv; at the end the stacked samples of
# tests/reference/linked with scattered missing values besides (stacked_units_missing.csv,
# estimates_linked.csv, fit_linked.csv).
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

# The stacked employee and customer samples of tests/reference/linked (each side's rows miss the
# other side's variables by design) with, besides, 8% of the rows of each side missing one of
# their side's two values (never both): FIML of the design and of the scattered values at once.
set.seed(20261204)
s <- read.csv("tests/reference/linked/stacked_units.csv")
for (pair in list(c("ms", "sc"), c("sq", "cs"))) {
  rows <- which(!is.na(s[[pair[1]]]))
  hit <- sample(rows, round(0.08 * length(rows)))
  which_one <- sample(pair, length(hit), replace = TRUE)
  for (k in seq_along(hit)) s[hit[k], which_one[k]] <- NA
}
write.csv(s, paste0(here, "stacked_units_missing.csv"), row.names = FALSE, quote = FALSE, na = "")
s <- read.csv(paste0(here, "stacked_units_missing.csv"))
m <- paste(readLines("tests/reference/linked/model.lav"), collapse = "\n")
f <- sem(m, s, cluster = "unit", missing = "ml", fixed.x = FALSE)
pe <- parameterEstimates(f)
pe <- pe[pe$se > 0 & pe$op != ":=", c("lhs", "op", "rhs", "level", "est", "se")]
write.csv(cbind(model = "linked", pe), paste0(here, "estimates_linked.csv"), row.names = FALSE)
fm <- fitMeasures(f, c("npar", "logl", "aic", "bic", "ntotal"))
write.csv(data.frame(model = "linked", measure = names(fm), value = as.numeric(fm)),
          paste0(here, "fit_linked.csv"), row.names = FALSE)
