package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/apexgo/apex/app"
)

const secretValue = "hunter2-very-secret"

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	s := app.NewSecret(secretValue)
	holder := struct {
		Password app.Secret `json:"password"`
		hidden   app.Secret
	}{s, s}

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, holder), fmt.Sprintf(verb, &holder))
	}
	outputs = append(outputs, s.String(), fmt.Sprint(s), fmt.Errorf("connect: %v", s).Error(),
		errors.Join(fmt.Errorf("dsn %s", s)).Error())
	j, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))

	var zbuf bytes.Buffer
	zl := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&zbuf), zap.DebugLevel))
	zl.Info("x", zap.Any("any", s), zap.Stringer("stringer", s), zap.Reflect("reflect", holder), zap.Any("holder", holder))
	outputs = append(outputs, zbuf.String())

	var sbuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&sbuf, nil)).Info("x", "secret", s, "holder", holder)
	outputs = append(outputs, sbuf.String())

	for _, o := range outputs {
		if strings.Contains(o, secretValue) || strings.Contains(o, fmt.Sprintf("%x", secretValue)) {
			t.Fatalf("secret leaked: %s", o)
		}
	}
	if !strings.Contains(zbuf.String(), app.Redacted) {
		t.Fatalf("zap output should show %s: %s", app.Redacted, zbuf.String())
	}
	if s.Reveal() != secretValue || !s.IsSet() {
		t.Fatal("Reveal must return the value")
	}
	_ = holder.hidden
	if fmt.Sprint(app.Secret{}) != "" {
		t.Fatal("empty secret prints as empty")
	}
}

func TestSecretDecodesFromJSON(t *testing.T) {
	t.Parallel()
	var v struct {
		P app.Secret `json:"p"`
	}
	if err := json.Unmarshal([]byte(`{"p":"abc"}`), &v); err != nil || v.P.Reveal() != "abc" {
		t.Fatalf("%v %v", err, v.P.Reveal())
	}
}
