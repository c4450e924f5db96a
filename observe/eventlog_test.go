package observe_test

import (
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
)

// At info level fx says one line when started and one when stopped.
func TestEventLogQuietAtInfo(t *testing.T) {
	t.Parallel()
	a := apptest.New(t, apex.Modules, apptest.Env("APP_OBSERVE__LOG__LEVEL=info"))
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	var info []string
	for _, e := range a.Logs.All() {
		if e.LoggerName == "fx" && e.Level >= zapcore.InfoLevel {
			info = append(info, e.Message)
			if _, ok := e.ContextMap()["took"]; !ok && e.Message != "stopping" {
				t.Errorf("%q has no duration", e.Message)
			}
		}
	}
	if len(info) != 2 || info[0] != "started" || info[1] != "stopped" {
		t.Fatalf("fx info lines: %q", info)
	}
	if len(a.Logs.FilterLoggerName("fx").All()) <= 2 {
		t.Fatal("fx's other events should be there at debug level")
	}
}
