package verify

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestExtract(t *testing.T) {
	const tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
	cookie := []Source{{From: FromCookie, Name: "access"}}
	query := []Source{{From: FromQuery, Name: "access_token"}}
	headerAndCookie := []Source{DefaultSources[0], cookie[0]}
	custom := []Source{{From: FromHeader, Name: "X-Auth-Token"}}
	twoSchemes := []Source{{From: FromHeader, Name: "Authorization", Schemes: []string{"Bearer", "JWT"}}}

	for _, tc := range []struct {
		name    string
		sources []Source
		target  string
		header  http.Header
		want    string // the token, when found
		found   bool
		reason  Reason // an error's reason; "" for no error
	}{
		{name: "default bearer", header: http.Header{"Authorization": {"Bearer " + tok}}, want: tok, found: true},
		{name: "scheme lower case", header: http.Header{"Authorization": {"bearer " + tok}}, want: tok, found: true},
		{name: "scheme upper case", header: http.Header{"Authorization": {"BEARER " + tok}}, want: tok, found: true},
		{name: "several spaces", header: http.Header{"Authorization": {"Bearer   " + tok}}, want: tok, found: true},
		{name: "header name in any case", header: http.Header{"Authorization": {"Bearer " + tok}}, sources: []Source{{From: FromHeader, Name: "authorization", Schemes: []string{"bearer"}}}, want: tok, found: true},
		{name: "no header", header: http.Header{}},
		{name: "wrong scheme", header: http.Header{"Authorization": {"Basic YWxpY2U6cGFzcw=="}}},
		{name: "scheme run into token", header: http.Header{"Authorization": {"Bearer" + tok}}},
		{name: "scheme as a prefix", header: http.Header{"Authorization": {"Bearerx " + tok}}},
		{name: "scheme without token", header: http.Header{"Authorization": {"Bearer"}}, reason: ReasonMalformed},
		{name: "scheme and spaces", header: http.Header{"Authorization": {"Bearer   "}}, reason: ReasonMalformed},
		{name: "two tokens in one header", header: http.Header{"Authorization": {"Bearer " + tok + " " + tok}}, reason: ReasonMalformed},
		{name: "two Authorization headers", header: http.Header{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, reason: ReasonMultiple},
		{name: "Basic and Bearer headers", header: http.Header{"Authorization": {"Basic YWxpY2U6cGFzcw==", "Bearer " + tok}}, reason: ReasonMultiple},
		{name: "second scheme", sources: twoSchemes, header: http.Header{"Authorization": {"jwt " + tok}}, want: tok, found: true},
		{name: "custom header without scheme", sources: custom, header: http.Header{"X-Auth-Token": {tok}}, want: tok, found: true},
		{name: "custom header keeps the whole value", sources: custom, header: http.Header{"X-Auth-Token": {"Bearer " + tok}}, want: "Bearer " + tok, found: true},
		{name: "custom header empty", sources: custom, header: http.Header{"X-Auth-Token": {""}}},
		{name: "custom header ignores Authorization", sources: custom, header: http.Header{"Authorization": {"Bearer " + tok}}},
		{name: "cookie", sources: cookie, header: http.Header{"Cookie": {"theme=dark; access=" + tok}}, want: tok, found: true},
		{name: "cookie absent", sources: cookie, header: http.Header{"Cookie": {"theme=dark"}}},
		{name: "cookie empty", sources: cookie, header: http.Header{"Cookie": {"access="}}},
		{name: "cookie twice", sources: cookie, header: http.Header{"Cookie": {"access=" + tok + "; access=" + tok}}, reason: ReasonMultiple},
		{name: "cookie twice in two headers", sources: cookie, header: http.Header{"Cookie": {"access=" + tok, "access=x"}}, reason: ReasonMultiple},
		{name: "cookie not read by default", header: http.Header{"Cookie": {"access=" + tok}}},
		{name: "query", sources: query, target: "/?access_token=" + tok, want: tok, found: true},
		{name: "query twice", sources: query, target: "/?access_token=" + tok + "&access_token=" + tok, reason: ReasonMultiple},
		{name: "query empty", sources: query, target: "/?access_token="},
		{name: "query not read by default", target: "/?access_token=" + tok},
		{name: "header and cookie", sources: headerAndCookie, header: http.Header{"Authorization": {"Bearer " + tok}, "Cookie": {"access=" + tok}}, reason: ReasonMultiple},
		{name: "header only of two sources", sources: headerAndCookie, header: http.Header{"Authorization": {"Bearer " + tok}}, want: tok, found: true},
		{name: "cookie only of two sources", sources: headerAndCookie, header: http.Header{"Cookie": {"access=" + tok}}, want: tok, found: true},
		{name: "wrong-scheme header and a cookie", sources: headerAndCookie, header: http.Header{"Authorization": {"Basic YWxpY2U6cGFzcw=="}, "Cookie": {"access=" + tok}}, want: tok, found: true},
		{name: "header and query", sources: append([]Source{DefaultSources[0]}, query...), target: "/?access_token=" + tok, header: http.Header{"Authorization": {"Bearer " + tok}}, reason: ReasonMultiple},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target
			if target == "" {
				target = "/"
			}
			r := httptest.NewRequest(http.MethodGet, target, nil)
			for name, vals := range tc.header {
				r.Header[name] = vals
			}
			got, found, err := Extractor{Sources: tc.sources}.Extract(r)
			if tc.reason != "" {
				var e *Error
				if !errors.As(err, &e) || e.Reason != tc.reason {
					t.Fatalf("err = %v, want reason %s", err, tc.reason)
				}
				if e.Status != http.StatusUnauthorized {
					t.Errorf("status = %d, want 401", e.Status)
				}
				if found || got != "" {
					t.Errorf("an error came with token %q, found %v", got, found)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if found != tc.found || got != tc.want {
				t.Fatalf("Extract = %q, %v; want %q, %v", got, found, tc.want, tc.found)
			}
		})
	}
}

// The common case, a bearer token in the Authorization header, costs no allocation.
func TestExtractHeaderAllocations(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/?access_token=x", nil)
	r.Header.Set("Authorization", "Bearer abc.def.ghi")
	r.Header.Set("Cookie", "access=x")
	var e Extractor
	if n := testing.AllocsPerRun(100, func() {
		if tok, found, err := e.Extract(r); tok != "abc.def.ghi" || !found || err != nil {
			t.Fatalf("Extract = %q, %v, %v", tok, found, err)
		}
	}); n != 0 {
		t.Errorf("Extract allocates %v times per request", n)
	}
}
