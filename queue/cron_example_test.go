package queue_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apexgo/apex/queue"
	"github.com/apexgo/apex/queue/memory"
)

// Two instances run the same schedule on one backend and tick store:
// both fire the 12:00 tick, and it is one job.
func ExampleNewScheduler() {
	backend, _ := memory.New(memory.Config{})
	jobs, _ := queue.New(queue.Params{Backend: backend})
	ticks := queue.MemoryTicks()
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 300e6, time.UTC) }
	for range 2 {
		s, _ := queue.NewScheduler(queue.SchedulerParams{Client: jobs, Ticks: ticks, Now: now,
			Schedules: []queue.Schedule{queue.Cron("report", "0 */5 * * * *", "report.build", nil)}})
		_ = s.Check(context.Background())
	}
	st, _ := backend.Stats(context.Background(), queue.DefaultQueue)
	id := queue.CronID(queue.DefaultQueue, "report", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	name, tick, _ := queue.TickOf(id)
	fmt.Println(st.Ready, id, name, tick.Format(time.DateTime))
	// Output: 1 default.cron-report-1772366400 report 2026-03-01 12:00:00
}
