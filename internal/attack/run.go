package attack

import (
	"context"
	"fmt"
	"time"
)

// Report is one attack run with its measurements.
type Report struct {
	// Label names the target in tables ("spdyd", "spdyproxy", ...).
	Label string
	// Result is what the attack saw; CheckErr is nil when it is the
	// prescribed outcome.
	Result   *Result
	CheckErr error
	// Usage is what the Meter measured (zero without one).
	Usage Usage
	// Good counts the good client's requests during the attack (nil
	// without one); GoodErr tells why it could not prove the server kept
	// serving (no success after the attack).
	Good    *GoodStats
	GoodErr error
}

// Passed reports whether the outcome was the prescribed one and the good
// client, if any, got only correct answers.
func (r *Report) Passed() bool {
	return r.CheckErr == nil && r.GoodErr == nil && (r.Good == nil || r.Good.Failed == 0)
}

// RunConfig configures RunAttack.
type RunConfig struct {
	// Label names the target in the report.
	Label string
	// Options size the attack.
	Options *Options
	// Meter, when set, measures the server during the attack.
	Meter Meter
	// Good, when set, is a started good client; the report counts its
	// requests during the attack, and RunAttack waits for one success
	// before and one after the attack, which proves the server served it
	// throughout.
	Good *GoodClient
	// Timeout bounds the attack (a hang guard); 0 means 5 minutes.
	Timeout time.Duration
}

// RunAttack runs a against t as rc says and checks the outcome.
func RunAttack(ctx context.Context, a Attack, t *Target, rc RunConfig) *Report {
	rep := &Report{Label: rc.Label}
	timeout := rc.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var before GoodStats
	if rc.Good != nil {
		before = rc.Good.Stats()
		if err := rc.Good.WaitOK(ctx, before.OK+1); err != nil {
			rep.GoodErr = fmt.Errorf("before the attack: %w", err)
		}
		before = rc.Good.Stats()
	}
	if rc.Meter != nil {
		if err := rc.Meter.Start(); err != nil {
			rep.Result = newResult(a.Name, t)
			rep.Result.Err = fmt.Errorf("meter: %w", err)
			rep.CheckErr = a.Check(rep.Result)
			return rep
		}
	}
	rep.Result = a.Run(ctx, t, rc.Options)
	if rc.Good != nil && rep.GoodErr == nil {
		mid := rc.Good.Stats()
		if err := rc.Good.WaitOK(ctx, mid.OK+1); err != nil {
			rep.GoodErr = fmt.Errorf("after the attack: %w", err)
		}
	}
	if rc.Meter != nil {
		rep.Usage = rc.Meter.Stop()
	}
	if rc.Good != nil {
		d := rc.Good.Stats().Sub(before)
		rep.Good = &d
	}
	rep.CheckErr = a.Check(rep.Result)
	return rep
}
