package httpapi

// Async runs read in its own goroutine and returns wait, which waits for
// read to end and returns its error. A handler that needs two independent
// reads starts one with Async and makes the other itself, so the request
// costs one round trip of latency. read stores its results in the
// caller's variables; the caller reads them only after wait returns, and
// calls wait exactly once.
func Async(read func() error) (wait func() error) {
	done := make(chan error, 1)
	go func() { done <- read() }()
	return func() error { return <-done }
}
