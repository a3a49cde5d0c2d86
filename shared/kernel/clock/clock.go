// Package clock injects time so tests can move it, and fixes the business
// calendar to Asia/Seoul.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time. All code takes time from a Clock, never time.Now.
type Clock interface{ Now() time.Time }

// Real is the wall clock.
type Real struct{}

func (Real) Now() time.Time { return time.Now() }

// Manual is a clock tests set and advance. Safe for concurrent use.
type Manual struct {
	mu sync.Mutex
	t  time.Time
}

func NewManual(t time.Time) *Manual { return &Manual{t: t} }

func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}

func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	m.t = t
	m.mu.Unlock()
}

func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	m.t = m.t.Add(d)
	m.mu.Unlock()
}

// KST is Asia/Seoul. Korea has no daylight saving time, so a fixed zone is
// exact and needs no tzdata on the Lambda image.
var KST = time.FixedZone("Asia/Seoul", 9*60*60)

// KSTDate is the business date (yyyy-mm-dd) of t in Asia/Seoul.
func KSTDate(t time.Time) string { return t.In(KST).Format("2006-01-02") }

// NextKSTMidnight is the first instant of the next business day after t.
func NextKSTMidnight(t time.Time) time.Time {
	k := t.In(KST)
	return time.Date(k.Year(), k.Month(), k.Day()+1, 0, 0, 0, 0, KST)
}
