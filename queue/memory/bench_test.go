package memory_test

import (
	"testing"

	"github.com/apexgo/apex/queue/memory"
	"github.com/apexgo/apex/queue/queuetest"
)

// BenchmarkMemoryThroughput enqueues b.N no-op jobs in batches of 1000 and
// runs them with a worker at concurrency 50; it reports jobs/s for the
// run alone.
func BenchmarkMemoryThroughput(b *testing.B) {
	be, err := memory.New(memory.Config{MaxJobs: max(b.N, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	queuetest.BenchmarkProcess(b, be, "mem", 50)
}
