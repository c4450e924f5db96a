package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/apexgo/apex/queue"
)

// Email is the payload of "email.send".
type Email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

// Report is the payload of "report.build".
type Report struct {
	Month string `json:"month"`
}

// jobsModule registers the job kinds this worker handles.
var jobsModule = fx.Module("jobs", fx.Invoke(registerJobs))

func registerJobs(w *queue.Worker) {
	queue.Handle(w, "email.send", sendEmail)
	queue.Handle(w, "report.build", buildReport, queue.On("reports"), queue.Timeout(10*time.Minute), queue.MaxAttempts(3))
}

func sendEmail(ctx context.Context, j queue.Job[Email]) error {
	if !strings.Contains(j.Payload.To, "@") {
		return queue.Permanent(fmt.Errorf("bad address %q", j.Payload.To))
	}
	if strings.HasSuffix(j.Payload.To, "@flaky.example") && j.Attempt < 2 {
		return errors.New("smtp: 421 try again later")
	}
	j.Log.Info("email sent", zap.String("to", j.Payload.To))
	return j.SetResult(map[string]string{"sent_to": j.Payload.To})
}

func buildReport(ctx context.Context, j queue.Job[Report]) error {
	for step := 1; step <= 4; step++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if err := j.Progress(ctx, step*25, fmt.Sprintf("step %d of 4", step)); err != nil {
			return err
		}
	}
	return j.SetResult(map[string]string{"month": j.Payload.Month, "url": "/reports/" + j.Payload.Month + ".pdf"})
}
