package httpx_test

import (
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"

	"github.com/apexgo/apex/httpx"
)

// Domain errors become problem details through the error handler.
func ExampleErrorHandler_ProblemFor() {
	errNoStock := errors.New("out of stock")
	h, _ := httpx.NewErrorHandler(zap.NewNop(), []httpx.ErrorMapping{{Err: errNoStock, Status: http.StatusConflict}})

	p := h.ProblemFor(fmt.Errorf("reserve sku A1: %w", errNoStock))
	fmt.Println(p.Status, p.Title, "-", p.Detail)

	p = h.ProblemFor(errors.New("pq: password authentication failed"))
	fmt.Println(p.Status, p.Title, "-", p.Detail)
	// Output:
	// 409 Conflict - reserve sku A1: out of stock
	// 500 Internal Server Error - an internal error occurred
}
