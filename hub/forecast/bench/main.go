// Command bench compares the Go Prophet model (hub/forecast/prophet) with R
// Prophet on the datasets of the forecasting issue: MAPE, sMAPE, MASE, 80%
// band coverage, fit and predict time, peak memory, side by side.
//
// Each case runs in a child process (this binary with -worker, or Rscript
// with prophet_ref.R) on the same train/test files, so peak memory is the
// child's maximum resident set size and both sides are scored by the same
// code. R Prophet runs when Rscript and the prophet package are installed
// (Debian: apt-get install r-cran-prophet); otherwise its columns are
// skipped with a message.
//
//	cd hub && go run ./forecast/bench -data ../../shared/data/forecast
package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

//go:embed prophet_ref.R
var refScript []byte

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is one implementation's figures on one dataset.
type result struct {
	metrics
	fit, predict float64 // seconds (median)
	rssMB        float64
	err          error
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	data := fs.String("data", "../shared/data/forecast", "folder of the benchmark datasets")
	only := fs.String("only", "", "comma-separated dataset names (default all)")
	ref := fs.String("reference", "auto", "run R Prophet: auto (when installed), on, off")
	reps := fs.Int("reps", 3, "fits per case of the Go model (median time)")
	models := fs.String("models", "go,r", "implementations to run: go, r or both")
	seeds := fs.Int("seeds", 1, "simulate each fit's intervals with seeds 1..N too and report their mean coverage (cov80 seeds)")
	optimizer := fs.String("optimizer", "", "the Go model's optimizer: exact or stan (default: the model's default)")
	worker := fs.String("worker", "", "internal: run the Go model on the case in this folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *worker != "" {
		return runWorker(*worker)
	}
	useGo := strings.Contains(*models, "go")
	useR := *ref == "on" && strings.Contains(*models, "r")
	if *ref == "auto" && strings.Contains(*models, "r") {
		useR = exec.Command("Rscript", "-e", "suppressMessages(library(prophet))").Run() == nil
		if !useR {
			fmt.Fprintln(out, "R Prophet not installed (Rscript with library(prophet)): reference columns skipped; apt-get install r-cran-prophet")
		}
	}
	tmp, err := os.MkdirTemp("", "forecast-bench-")
	if err != nil {
		return fmt.Errorf("make work dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	script := filepath.Join(tmp, "prophet_ref.R")
	if err := os.WriteFile(script, refScript, 0o644); err != nil {
		return fmt.Errorf("write R script: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	fmt.Fprintf(out, "| dataset | model | n train | h×windows | MAPE %% | sMAPE %% | MASE | cov80 | cov80 %d seeds | fit s | predict s | peak RSS MB |\n", *seeds)
	fmt.Fprintf(out, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	var goals []string
	for _, d := range datasets {
		if *only != "" && !strings.Contains(","+*only+",", ","+d.name+",") {
			continue
		}
		s, err := d.load(filepath.Join(*data, d.file))
		if err != nil {
			return err
		}
		ours := result{err: errors.New("not run")}
		if useGo {
			ours = runCase(d, s, tmp, *reps, *optimizer, *seeds, func(dir string) *exec.Cmd { return exec.Command(self, "-worker", dir) })
		}
		ntrain := len(s.ds) - d.h
		row := func(name string, r result) {
			if r.err != nil {
				fmt.Fprintf(out, "| %s | %s | %d | %d×%d | error: %v |||||||\n", d.name, name, ntrain, d.h, d.windows, r.err)
				return
			}
			fmt.Fprintf(out, "| %s | %s | %d | %d×%d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f |\n",
				d.name, name, ntrain, d.h, d.windows, r.MAPE, r.SMAPE, r.MASE, r.Cov, r.CovSeeds, r.fit, r.predict, r.rssMB)
		}
		if useGo {
			row("gridedge (Go)", ours)
		}
		if useR {
			rr := runCase(d, s, tmp, d.rReps, "", *seeds, func(dir string) *exec.Cmd { return exec.Command("Rscript", script, dir) })
			row("R Prophet 1.0", rr)
			if ours.err == nil && rr.err == nil {
				goals = append(goals, fmt.Sprintf("%s: MASE ratio %.3f (goal ≤ 1.05: %s), coverage Δ %+.3f (goal ±0.05: %s; over %d seeds %+.3f: %s), fit speed-up ×%.1f (goal ≥ 20: %s)",
					d.name, ours.MASE/rr.MASE, mark(ours.MASE <= 1.05*rr.MASE),
					ours.Cov-rr.Cov, mark(abs(ours.Cov-rr.Cov) <= 0.05),
					*seeds, ours.CovSeeds-rr.CovSeeds, mark(abs(ours.CovSeeds-rr.CovSeeds) <= 0.05),
					rr.fit/ours.fit, mark(rr.fit >= 20*ours.fit)))
			}
		}
	}
	if len(goals) > 0 {
		fmt.Fprintln(out)
		for _, g := range goals {
			fmt.Fprintln(out, "-", g)
		}
	}
	return nil
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// runCase runs one implementation on every window of d and aggregates.
func runCase(d dataset, s *series, tmp string, reps int, optimizer string, seeds int, cmd func(dir string) *exec.Cmd) result {
	var ms []metrics
	var fits, preds []float64
	var res result
	n := len(s.ds)
	for w := range d.windows {
		end := n - (d.windows-1-w)*d.h
		train, test := s.slice(0, end-d.h), s.slice(end-d.h, end)
		dir, err := os.MkdirTemp(tmp, d.name+"-")
		if err != nil {
			return result{err: err}
		}
		if err := writeCase(dir, d, train, test, reps, optimizer, seeds); err != nil {
			return result{err: err}
		}
		c := cmd(dir)
		var stderr strings.Builder
		c.Stderr = &stderr
		if err := c.Run(); err != nil {
			return result{err: fmt.Errorf("%v: %s", err, lastLine(stderr.String()))}
		}
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.rssMB = max(res.rssMB, float64(ru.Maxrss)/1024)
		}
		fc, err := readCSV(filepath.Join(dir, "forecast.csv"))
		if err != nil {
			return result{err: err}
		}
		yhat, lo, hi := make([]float64, len(fc)), make([]float64, len(fc)), make([]float64, len(fc))
		for i, r := range fc {
			yhat[i], _ = strconv.ParseFloat(r[0], 64)
			lo[i], _ = strconv.ParseFloat(r[1], 64)
			hi[i], _ = strconv.ParseFloat(r[2], 64)
		}
		if len(yhat) != len(test.y) {
			return result{err: fmt.Errorf("forecast has %d rows for %d test rows", len(yhat), len(test.y))}
		}
		sc := score(test.y, yhat, lo, hi, train.y, d.m)
		sc.CovSeeds = sc.Cov
		if seeds > 1 {
			if sc.CovSeeds, err = seedCoverage(filepath.Join(dir, "bands.csv"), test.y, seeds); err != nil {
				return result{err: err}
			}
		}
		ms = append(ms, sc)
		tm, err := readCSV(filepath.Join(dir, "times.csv"))
		if err != nil {
			return result{err: err}
		}
		var f, p []float64
		for _, r := range tm {
			a, _ := strconv.ParseFloat(r[0], 64)
			b, _ := strconv.ParseFloat(r[1], 64)
			f, p = append(f, a), append(p, b)
		}
		fits, preds = append(fits, median(f)), append(preds, median(p))
		_ = os.RemoveAll(dir)
	}
	res.metrics = mean(ms)
	res.fit, res.predict = median(fits), median(preds)
	return res
}

// seedCoverage is the mean over seeds of the share of y inside the band,
// from bands.csv (seed,yhat_lower,yhat_upper; len(y) rows per seed).
func seedCoverage(path string, y []float64, seeds int) (float64, error) {
	rows, err := readCSV(path)
	if err != nil {
		return 0, err
	}
	if len(rows) != seeds*len(y) {
		return 0, fmt.Errorf("%s: %d rows, want %d seeds × %d", filepath.Base(path), len(rows), seeds, len(y))
	}
	var in float64
	for i, r := range rows {
		lo, err1 := strconv.ParseFloat(r[1], 64)
		hi, err2 := strconv.ParseFloat(r[2], 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, fmt.Errorf("%s row %d: %w", filepath.Base(path), i+2, err)
		}
		if v := y[i%len(y)]; v >= lo && v <= hi {
			in++
		}
	}
	return in / float64(len(rows)), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// writeCase writes spec.json, train.csv, test.csv and holidays.csv.
func writeCase(dir string, d dataset, train, test *series, reps int, optimizer string, seeds int) error {
	b, _ := json.Marshal(spec{Mode: d.mode, Regressors: d.regs, Seed: 1, Reps: reps, Optimizer: optimizer, Seeds: seeds})
	if err := os.WriteFile(filepath.Join(dir, "spec.json"), b, 0o644); err != nil {
		return fmt.Errorf("write spec: %w", err)
	}
	if err := train.writeCSV(filepath.Join(dir, "train.csv"), d.regs); err != nil {
		return err
	}
	if err := test.writeCSV(filepath.Join(dir, "test.csv"), d.regs); err != nil {
		return err
	}
	if d.holidays {
		var sb strings.Builder
		sb.WriteString("holiday,ds\n")
		for _, day := range train.holidays {
			fmt.Fprintf(&sb, "holiday,%s\n", day)
		}
		if err := os.WriteFile(filepath.Join(dir, "holidays.csv"), []byte(sb.String()), 0o644); err != nil {
			return fmt.Errorf("write holidays: %w", err)
		}
	}
	return nil
}
