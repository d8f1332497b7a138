# Reference runs of R Prophet for the forecast benchmark (hub/forecast/bench).
# Usage: Rscript prophet_ref.R DIR   (R Prophet from Debian: apt-get install r-cran-prophet)
# DIR holds spec.json, train.csv, test.csv and optionally holidays.csv, written by the
# Go harness; this script writes DIR/forecast.csv and DIR/times.csv. Same model settings
# as the Go side: Prophet's defaults, the mode, regressors and holidays in spec.json.
suppressMessages(library(prophet))
suppressMessages(library(jsonlite))
dir <- commandArgs(trailingOnly = TRUE)[1]
spec <- fromJSON(file.path(dir, "spec.json"))
rd <- function(f) { d <- read.csv(file.path(dir, f)); d$ds <- as.POSIXct(d$ds, tz = "UTC", format = "%Y-%m-%d %H:%M:%S"); d }
train <- rd("train.csv"); test <- rd("test.csv")
hol <- NULL
if (file.exists(file.path(dir, "holidays.csv"))) {
  hol <- read.csv(file.path(dir, "holidays.csv")); hol$ds <- as.Date(hol$ds)
}
times <- c()
for (r in seq_len(spec$reps)) {
  set.seed(spec$seed + r - 1)
  t0 <- Sys.time()
  m <- prophet(holidays = hol, seasonality.mode = spec$mode, fit = FALSE)
  for (name in spec$regressors) m <- add_regressor(m, name)
  m <- suppressMessages(fit.prophet(m, train))
  t1 <- Sys.time()
  fc <- predict(m, test)
  t2 <- Sys.time()
  times <- rbind(times, c(fit = as.numeric(t1 - t0, units = "secs"), predict = as.numeric(t2 - t1, units = "secs")))
}
write.csv(data.frame(yhat = fc$yhat, yhat_lower = fc$yhat_lower, yhat_upper = fc$yhat_upper),
          file.path(dir, "forecast.csv"), row.names = FALSE)
write.csv(as.data.frame(times), file.path(dir, "times.csv"), row.names = FALSE)
# spec$seeds > 1: the last fit's intervals simulated with seeds 1..seeds too.
if (!is.null(spec$seeds) && spec$seeds > 1) {
  bands <- NULL
  for (s in seq_len(spec$seeds)) {
    set.seed(s)
    fs <- predict(m, test)
    bands <- rbind(bands, data.frame(seed = s, yhat_lower = fs$yhat_lower, yhat_upper = fs$yhat_upper))
  }
  write.csv(bands, file.path(dir, "bands.csv"), row.names = FALSE)
}
cat("prophet", as.character(packageVersion("prophet")), "rstan", as.character(packageVersion("rstan")), "\n")
