package load

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stage is one stage of a ramping arrival rate (k6's ramping-arrival-rate
// executor has the same shape): over Duration the arrival rate moves
// linearly from the previous stage's Target (the first stage: the start
// rate) to this Target, in journeys per second. A zero Duration jumps to
// Target at once (a stair step).
type Stage struct {
	Duration time.Duration
	Target   float64
}

// ParseStages reads "15s:2,30s:2,5s:0" (duration:target, comma separated).
func ParseStages(s string) ([]Stage, error) {
	var out []Stage
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		d, t, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("stage %q is not duration:target (e.g. 30s:2)", part)
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 {
			return nil, fmt.Errorf("stage %q: bad duration", part)
		}
		target, err := strconv.ParseFloat(t, 64)
		if err != nil || target < 0 || math.IsInf(target, 0) || math.IsNaN(target) {
			return nil, fmt.Errorf("stage %q: bad target rate", part)
		}
		out = append(out, Stage{Duration: dur, Target: target})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no stages in %q", s)
	}
	return out, nil
}

// Ramp is the default shape for a peak rate: up in 15 s, held 30 s, down in 5 s.
func Ramp(rate float64) []Stage {
	return []Stage{{15 * time.Second, rate}, {30 * time.Second, rate}, {5 * time.Second, 0}}
}

// Total is the stages' summed duration.
func Total(stages []Stage) time.Duration {
	var d time.Duration
	for _, s := range stages {
		d += s.Duration
	}
	return d
}

// Arrivals is the open model's schedule: when (after the run's start) each
// journey starts, independent of how fast earlier ones finish. The
// cumulative count follows the integral of the rate: the n-th journey
// (n = 1, 2, ...) starts when n - 1/2 journeys' worth of rate has
// passed, so a run of area A starts round(A) journeys. At most max.
func Arrivals(start float64, stages []Stage, max int) []time.Duration {
	var out []time.Duration
	next := 0.5 // the area at which the next journey starts
	area := 0.0 // the area before the current stage
	offset := time.Duration(0)
	r0 := start
	for _, st := range stages {
		r1 := st.Target
		if st.Duration <= 0 {
			r0 = r1
			continue
		}
		D := st.Duration.Seconds()
		m := (r1 - r0) / D // the rate's slope in this stage
		stageArea := (r0 + r1) / 2 * D
		for next <= area+stageArea+1e-9 && len(out) < max {
			a := next - area // the area into this stage
			// Solve r0*t + m*t^2/2 = a for t in [0, D], in the form that
			// is stable for m near 0 and exact for r0 = 0.
			den := r0 + math.Sqrt(math.Max(0, r0*r0+2*m*a))
			t := 0.0
			if den > 0 {
				t = 2 * a / den
			}
			t = math.Min(math.Max(t, 0), D)
			out = append(out, offset+time.Duration(t*float64(time.Second)))
			next++
		}
		area += stageArea
		offset += st.Duration
		r0 = r1
	}
	return out
}

// driven is what the launcher did with the schedule.
type driven struct {
	started int
	// dropped are the arrivals not started because MaxInFlight journeys
	// were still running (k6's dropped_iterations), by their scheduled time.
	dropped []time.Duration
	// maxLag is the latest a journey started after its scheduled time
	// (the load generator's own delay; large values mean the generator,
	// not the system under test, was the bottleneck).
	maxLag time.Duration
}

// drive starts launch(ctx, i) for arrival i at start+arrivals[i], on its
// own goroutine, unless maxInFlight are running (then it is dropped, and
// onDrop, if set, is told its scheduled time). It
// returns when the schedule has ended or ctx is done, leaving the started
// journeys running; wait on wg for them.
func drive(ctx context.Context, start time.Time, arrivals []time.Duration, maxInFlight int, wg *sync.WaitGroup,
	launch func(ctx context.Context, i int), onDrop func(at time.Duration)) driven {
	var res driven
	var inFlight atomic.Int64
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i, at := range arrivals {
		due := start.Add(at)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return res
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return res
		}
		if lag := time.Since(due); lag > res.maxLag {
			res.maxLag = lag
		}
		if maxInFlight > 0 && inFlight.Load() >= int64(maxInFlight) {
			res.dropped = append(res.dropped, at)
			if onDrop != nil {
				onDrop(at)
			}
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		res.started++
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			launch(ctx, i)
		}()
	}
	return res
}
