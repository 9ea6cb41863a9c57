# lavaan's fit of the stacked employee and customer samples (tests/test_sem_linked.py).
# Run from the repository root: Rscript tests/reference/linked/lavaan.R
suppressMessages(library(lavaan))
d <- read.csv("tests/reference/linked/stacked_units.csv")
m <- paste(readLines("tests/reference/linked/model.lav"), collapse = "\n")
f <- sem(m, d, cluster = "unit", missing = "ml", fixed.x = FALSE)
pe <- parameterEstimates(f, standardized = TRUE)
pe <- pe[, c("lhs", "op", "rhs", "level", "est", "se", "std.all")]
write.csv(pe, "tests/reference/linked/estimates.csv", row.names = FALSE)
fm <- fitMeasures(f, c("logl", "npar", "aic", "bic", "ntotal"))
write.csv(data.frame(measure = names(fm), value = as.numeric(fm)), "tests/reference/linked/fit.csv", row.names = FALSE)
cat("lavaan", as.character(packageVersion("lavaan")), "\n")
