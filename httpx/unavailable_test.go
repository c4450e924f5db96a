package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/apexgo/apex/httpx"
)

func TestUnavailableLogsOncePerInterval(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.ErrorLevel)
	u := httpx.NewUnavailable(httpx.UnavailableParams{Log: zap.New(core), Message: "store down", Detail: "try later", Interval: time.Hour})
	cause := errors.New("connection refused")
	for range 100 {
		p := u.Problem(context.Background(), cause)
		if p.Status != http.StatusServiceUnavailable || p.Code != httpx.CodeUnavailable || p.Detail != "try later" ||
			p.Header.Get("Retry-After") != "1" || !p.Reported || !errors.Is(p, cause) {
			t.Fatalf("problem = %+v", p)
		}
	}
	u.Log(context.Background(), cause)
	if n := logs.FilterMessage("store down").Len(); n != 1 {
		t.Fatalf("%d ERROR lines in an hour's interval, want 1", n)
	}
}

func TestCodeFor(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{
		400: httpx.CodeBadRequest, 401: httpx.CodeUnauthorized, 404: httpx.CodeNotFound, 409: httpx.CodeConflict,
		422: httpx.CodeValidation, 429: httpx.CodeRateLimited, 500: httpx.CodeInternal, 503: httpx.CodeUnavailable, 418: httpx.CodeError,
	} {
		if got := httpx.CodeFor(status); got != want {
			t.Errorf("CodeFor(%d) = %q, want %q", status, got, want)
		}
	}
}
