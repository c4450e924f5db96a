package queue_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/memory"
)

// Enqueue a job, run it with a typed handler and read its status; with
// fx, queue.Module provides the *queue.Client and starts its worker.
func Example() {
	backend, _ := memory.New(memory.Config{})
	jobs, _ := queue.New(queue.Params{Backend: backend})

	type Email struct{ To string }
	done := make(chan struct{})
	queue.Handle(jobs.Worker(), "email.send", func(ctx context.Context, j queue.Job[Email]) error {
		defer close(done)
		fmt.Println("sending to", j.Payload.To, "attempt", j.Attempt)
		return j.SetResult("queued at the MTA")
	})
	_ = jobs.Worker().Start()
	defer jobs.Worker().Stop(context.Background())

	id, _ := jobs.Enqueue(context.Background(), "email.send", Email{To: "ada@example.com"})
	<-done
	for {
		st, _ := jobs.Status(context.Background(), id)
		if st.State.Terminal() {
			fmt.Println(st.State, st.Attempts, string(st.Result))
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Output:
	// sending to ada@example.com attempt 1
	// succeeded 1 "queued at the MTA"
}

// A unique key makes a second enqueue return the first job's ID.
func ExampleUnique() {
	backend, _ := memory.New(memory.Config{})
	jobs, _ := queue.New(queue.Params{Backend: backend})
	ctx := context.Background()
	first, _ := jobs.Enqueue(ctx, "report.build", "2026-11", queue.Unique("report:2026-11", time.Hour))
	second, err := jobs.Enqueue(ctx, "report.build", "2026-11", queue.Unique("report:2026-11", time.Hour))
	fmt.Println(first == second, err != nil)
	// Output: true true
}
