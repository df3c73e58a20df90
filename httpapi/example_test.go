package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/relman-dev/relman"
	"github.com/relman-dev/relman/httpapi"
	"github.com/relman-dev/relman/store/memory"
)

// A host mounts the handler under a prefix of its own mux; here the
// actor comes from a header (a real host checks a session or a token).
func ExampleNew() {
	m, _ := relman.NewManager(memory.New())
	h, _ := httpapi.New(m, httpapi.Options{Authenticate: func(r *http.Request) (relman.Actor, error) {
		if id := r.Header.Get("X-User"); id != "" {
			return relman.Actor{ID: id}, nil
		}
		return relman.Actor{}, errors.New("who are you?")
	}})
	mux := http.NewServeMux()
	mux.Handle("/relman/", http.StripPrefix("/relman", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(path, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", srv.URL+"/relman"+path, strings.NewReader(body))
		req.Header.Set("X-User", "olga")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer res.Body.Close()
		var doc map[string]any
		_ = json.NewDecoder(res.Body).Decode(&doc)
		return res.StatusCode, doc
	}
	code, rel := post("/releases", `{"id": "inv-1", "title": "Invoices", "version": "1.0.0", "kind": "minor",
		"change_model": "normal", "requester": "rita", "owner": "olga"}`)
	fmt.Println("create:", code, rel["stage"])
	code, check := post("/releases/inv-1/events/approve/check", "")
	fmt.Println("check:", code, check["allowed"], check["class"], check["failures"].([]any)[0].(map[string]any)["gate"])
	code, problem := post("/releases/inv-1/events/approve", "")
	fmt.Println("fire:", code, problem["class"])
	// Output:
	// create: 201 proposed
	// check: 200 false refused business-case
	// fire: 422 refused
}
