package httpgate_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/bulwarkdb/bulwark/authz"
	"github.com/bulwarkdb/bulwark/httpgate"
)

func Example_problem() {
	handler := httpgate.Correlate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A handler calls the gate; here, the policy's answer stands in.
		err := authz.Denied(authz.Deny("wrong_state", "cannot publish an article that is draft (needs approved)"))
		httpgate.WriteError(w, r, err, nil)
	}))

	r := httptest.NewRequest(http.MethodPost, "/articles/42/publish", nil)
	r.Header.Set("X-Request-Id", "req-7f3a") // only for the example: a fixed id
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, r)

	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	_, _ = os.Stdout.Write(w.Body.Bytes())
	// Output:
	// 422 application/problem+json
	// {"type":"urn:bulwark:problem:policy/wrong_state","title":"Refused by policy","status":422,"detail":"cannot publish an article that is draft (needs approved)","layer":"policy","code":"wrong_state","retryable":false,"correlation_id":"req-7f3a"}
}
