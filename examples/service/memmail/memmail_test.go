package memmail_test

import (
	"testing"

	"github.com/apexgo/apex/examples/service/domain"
	"github.com/apexgo/apex/examples/service/domain/domaintest"
	"github.com/apexgo/apex/examples/service/memmail"
)

func TestContract(t *testing.T) {
	t.Parallel()
	domaintest.RunMailer(t, func(*testing.T) (domain.Mailer, func() []domain.Email) {
		o := memmail.New(0)
		return o, o.Sent
	})
}

func TestBounded(t *testing.T) {
	t.Parallel()
	o := memmail.New(2)
	for _, to := range []string{"a@x.example", "b@x.example", "c@x.example"} {
		if err := o.Send(t.Context(), domain.Email{To: to}); err != nil {
			t.Fatal(err)
		}
	}
	if got := o.Sent(); len(got) != 2 || got[0].To != "b@x.example" || got[1].To != "c@x.example" {
		t.Fatalf("kept %+v, want the last two", got)
	}
}
