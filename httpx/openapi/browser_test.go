package openapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/apexgo/apex"
	"github.com/apexgo/apex/app/apptest"
	"github.com/apexgo/apex/httpx"
	"github.com/apexgo/apex/internal/testbrowser"
)

// The embedded UI renders the app's operations in a real browser under
// its CSP, with no policy violation, from the binary alone (no network
// but the app's).
func TestBrowserUI(t *testing.T) {
	t.Parallel()
	alloc := testbrowser.Allocator(t) // skips without chromium: before the app starts
	a := apptest.New(t, apex.Modules, apptest.With(fx.Provide(httpx.AsRoute(func() httpx.Route {
		create := func(c echo.Context) error { return c.JSON(http.StatusCreated, Order{ID: 7, SKU: "A1", Quantity: 1}) }
		return httpx.Route{Method: http.MethodPost, Path: "/orders", Handler: create,
			Doc: httpx.Doc{Summary: "Create an order", Tags: []string{"orders"}, OperationID: "createOrder", Request: CreateOrder{},
				Responses: map[int]any{http.StatusCreated: Order{}}}}
	}))))

	ctx, cancelCtx := chromedp.NewContext(alloc)
	defer cancelCtx()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	addListener := func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__csp = [];
document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
		})
		return chromedp.Void{}, err
	}
	err := chromedp.Do(ctx,
		addListener,
		chromedp.Navigate(a.URL+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`#operations-orders-createOrder .opblock-summary-description`)),
		// Open the operation: its parameters, body schema and responses.
		chromedp.Click(chromedp.CSS(`#operations-orders-createOrder .opblock-summary`)),
		chromedp.WaitVisible(chromedp.CSS(`#operations-orders-createOrder .try-out__btn`)),
		chromedp.Click(chromedp.CSS(`#operations-orders-createOrder .try-out__btn`)),
		chromedp.WaitVisible(chromedp.CSS(`#operations-orders-createOrder .execute`)),
		// Send the example request: the response is shown (connect-src).
		chromedp.Click(chromedp.CSS(`#operations-orders-createOrder .execute`)),
		chromedp.WaitVisible(chromedp.CSS(`#operations-orders-createOrder .live-responses-table .response-col_status`)),
		// And the models section.
		chromedp.Click(chromedp.CSS(`.models-control`)),
	)
	if err != nil {
		t.Fatalf("the UI did not render: %v", err)
	}
	summary, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#operations-orders-createOrder .opblock-summary-description`)))
	if err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#operations-orders-createOrder .live-responses-table tbody .response-col_status`)))
	if err != nil || strings.TrimSpace(status) != "201" {
		t.Errorf("the executed request's status: %q %v", status, err)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(summary, "Create an order") {
		t.Errorf("operation summary %q", summary)
	}
	if len(violations) > 0 {
		t.Errorf("CSP violations: %v", violations)
	}
}
