package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/apexgo/apex/examples/service/app"
	"github.com/apexgo/apex/examples/service/domain"
	"github.com/apexgo/apex/queue"
)

// registerJobs gives the queue the tracker's job kinds. Every process
// registers them; those with queue.worker off (the API instances of the
// cluster) never run them.
func registerJobs(w *queue.Worker, svc *app.Service) {
	queue.Handle(w, app.KindReport, func(ctx context.Context, j queue.Job[app.ReportRequest]) error {
		rep, err := svc.BuildReport(ctx, j.Tenant, j.Payload)
		if err != nil {
			return permanentIfFinal(err)
		}
		return j.SetResult(rep)
	}, queue.MaxAttempts(5))
	queue.Handle(w, app.KindProjectCreated, func(ctx context.Context, j queue.Job[app.ProjectCreated]) error {
		if err := svc.WelcomeProject(ctx, j.Payload); err != nil {
			return permanentIfFinal(err)
		}
		return j.SetResult(map[string]string{"mailed_to": j.Payload.Email})
	}, queue.MaxAttempts(5))
	queue.Handle(w, app.KindSnapshot, func(ctx context.Context, j queue.Job[struct{}]) error {
		_, tick, ok := queue.TickOf(j.ID)
		if !ok {
			return queue.Permanent(fmt.Errorf("job %s is not a tick of a schedule", j.ID))
		}
		return svc.Snapshot(ctx, j.ID, tick)
	})
}

// permanentIfFinal makes errors that no retry can fix fail the job at
// once, into the dead letters.
func permanentIfFinal(err error) error {
	if errors.Is(err, app.ErrNothingToReport) || errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrInvalid) {
		return queue.Permanent(err)
	}
	return err
}
