package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spdygo/spdy/internal/attack"
)

// printReports writes the reports as a table, followed by the reasons of
// every failure, or as JSON lines.
func printReports(w io.Writer, reps []*attack.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, r := range reps {
			if err := enc.Encode(jsonReport(r)); err != nil {
				return err
			}
		}
		return nil
	}
	if len(reps) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ATTACK\tTARGET\tRESULT\tOUTCOME\tFRAMES\tSECONDS\tRSS MiB start\tpeak\tCPU s\tGOOD ok/failed")
	for _, r := range reps {
		res := "ok"
		if !r.Passed() {
			res = "FAIL"
		}
		base, rss, cpu := "-", "-", "-"
		if r.Usage.Samples > 0 && r.Usage.PeakRSS > 0 {
			base = fmt.Sprintf("%.1f", mib(r.Usage.BaseRSS))
			rss = fmt.Sprintf("%.1f", mib(r.Usage.PeakRSS))
			cpu = fmt.Sprintf("%.2f", r.Usage.CPU.Seconds())
		}
		good := "-"
		if r.Good != nil {
			good = fmt.Sprintf("%d/%d", r.Good.OK, r.Good.Failed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.1f\t%s\t%s\t%s\t%s\n", r.Result.Attack, r.Label, res,
			r.Result.Outcome(), r.Result.Frames, r.Result.Duration.Seconds(), base, rss, cpu, good)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var fails []string
	for _, r := range reps {
		if r.CheckErr != nil {
			fails = append(fails, fmt.Sprintf("%s: %v", r.Label, r.CheckErr))
		}
		if r.GoodErr != nil {
			fails = append(fails, fmt.Sprintf("%s: %s: %v", r.Label, r.Result.Attack, r.GoodErr))
		}
		if r.Good != nil && r.Good.Failed > 0 {
			fails = append(fails, fmt.Sprintf("%s: %s: the good client failed %d times: %s", r.Label, r.Result.Attack, r.Good.Failed, strings.Join(r.Good.Errors, "; ")))
		}
	}
	if len(fails) > 0 {
		fmt.Fprintf(w, "\n%d failures:\n  %s\n", len(fails), strings.Join(fails, "\n  "))
	}
	return nil
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// report is the JSON form of an attack.Report.
type report struct {
	Target   string            `json:"target_label"`
	Pass     bool              `json:"pass"`
	Result   *attack.Result    `json:"result"`
	CheckErr string            `json:"check_error,omitempty"`
	Usage    *usage            `json:"usage,omitempty"`
	Good     *attack.GoodStats `json:"good,omitempty"`
	GoodErr  string            `json:"good_error,omitempty"`
}

type usage struct {
	BaseRSSMiB float64 `json:"base_rss_mib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	HWMMiB     float64 `json:"hwm_mib"`
	CPUSeconds float64 `json:"cpu_seconds"`
	Samples    int     `json:"samples"`
}

func jsonReport(r *attack.Report) report {
	j := report{Target: r.Label, Pass: r.Passed(), Result: r.Result, Good: r.Good}
	if r.CheckErr != nil {
		j.CheckErr = r.CheckErr.Error()
	}
	if r.GoodErr != nil {
		j.GoodErr = r.GoodErr.Error()
	}
	if u := r.Usage; u.Samples > 0 {
		j.Usage = &usage{BaseRSSMiB: mib(u.BaseRSS), PeakRSSMiB: mib(u.PeakRSS), HWMMiB: mib(u.HWM), CPUSeconds: u.CPU.Seconds(), Samples: u.Samples}
	}
	return j
}
