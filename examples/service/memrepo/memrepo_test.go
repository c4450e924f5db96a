package memrepo_test

import (
	"testing"

	"github.com/apexgo/apex/examples/service/domain"
	"github.com/apexgo/apex/examples/service/domain/domaintest"
	"github.com/apexgo/apex/examples/service/memrepo"
)

func TestContract(t *testing.T) {
	t.Parallel()
	domaintest.RunRepository(t, func(*testing.T) domain.Repository { return memrepo.New() })
}
