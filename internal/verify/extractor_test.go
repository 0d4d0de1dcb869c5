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
		// A token header that is present is never "no token" unless it is empty: another
		// scheme is refused as missing credentials (RFC 6750 §3.1), anything that is not
		// "<scheme> 1*SP <token68>" as malformed.
		{name: "empty header", header: http.Header{"Authorization": {""}}},
		{name: "whitespace header", header: http.Header{"Authorization": {" \t "}}},
		{name: "wrong scheme", header: http.Header{"Authorization": {"Basic YWxpY2U6cGFzcw=="}}, reason: ReasonMissing},
		{name: "wrong scheme alone", header: http.Header{"Authorization": {"Negotiate"}}, reason: ReasonMissing},
		{name: "scheme run into token", header: http.Header{"Authorization": {"Bearer" + tok}}, reason: ReasonMissing},
		{name: "scheme as a prefix", header: http.Header{"Authorization": {"Bearerx " + tok}}, reason: ReasonMissing},
		{name: "tab after scheme", header: http.Header{"Authorization": {"Bearer\t" + tok}}, reason: ReasonMalformed},
		{name: "space and tab after scheme", header: http.Header{"Authorization": {"Bearer \t" + tok}}, reason: ReasonMalformed},
		{name: "other whitespace after scheme", header: http.Header{"Authorization": {"Bearer\v" + tok}}, reason: ReasonMalformed},
		{name: "NUL after scheme", header: http.Header{"Authorization": {"Bearer\x00" + tok}}, reason: ReasonMalformed},
		{name: "tab inside token", header: http.Header{"Authorization": {"Bearer " + tok[:10] + "\t" + tok[10:]}}, reason: ReasonMalformed},
		{name: "auth-params", header: http.Header{"Authorization": {`Bearer token="` + tok + `"`}}, reason: ReasonMalformed},
		{name: "token and comma", header: http.Header{"Authorization": {"Bearer " + tok + ","}}, reason: ReasonMalformed},
		{name: "non-ASCII token", header: http.Header{"Authorization": {"Bearer t\u00f6k"}}, reason: ReasonMalformed},
		{name: "only padding", header: http.Header{"Authorization": {"Bearer =="}}, reason: ReasonMalformed},
		{name: "padded token68", header: http.Header{"Authorization": {"Bearer abc+/=="}}, want: "abc+/==", found: true},
		{name: "surrounding whitespace", header: http.Header{"Authorization": {" \tBearer " + tok + "\t "}}, want: tok, found: true},
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
		{name: "wrong-scheme header and a cookie", sources: headerAndCookie, header: http.Header{"Authorization": {"Basic YWxpY2U6cGFzcw=="}, "Cookie": {"access=" + tok}}, reason: ReasonMissing},
		{name: "malformed header and a cookie", sources: headerAndCookie, header: http.Header{"Authorization": {"Bearer\t" + tok}, "Cookie": {"access=" + tok}}, reason: ReasonMalformed},
		{name: "custom header keeps a tab", sources: custom, header: http.Header{"X-Auth-Token": {"a\tb"}}, want: "a\tb", found: true},
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

// Extract takes every query parameter it reads out of the request, found, refused or empty, and
// leaves the rest of the query exactly as sent.
func TestExtractStripsQuery(t *testing.T) {
	const tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
	query := []Source{{From: FromQuery, Name: "access_token"}}
	headerAndQuery := []Source{DefaultSources[0], query[0]}
	for _, tc := range []struct {
		name    string
		sources []Source
		target  string
		header  string // Authorization
		want    string // RequestURI after (RawQuery is its query)
	}{
		{"only the token", query, "/a?access_token=" + tok, "", "/a"},
		{"others kept verbatim", query, "/a?x=%2F+1&access_token=" + tok + "&y=&x=2", "", "/a?x=%2F+1&y=&x=2"},
		{"first", query, "/a?access_token=" + tok + "&b=1", "", "/a?b=1"},
		{"twice (refused)", query, "/a?access_token=" + tok + "&access_token=" + tok, "", "/a"},
		{"empty value", query, "/a?access_token=&b=1", "", "/a?b=1"},
		{"no value", query, "/a?access_token&b=1", "", "/a?b=1"},
		{"escaped name", query, "/a?acc%65ss_token=" + tok + "&b=1", "", "/a?b=1"},
		{"in a pair with a semicolon", query, "/a?b=1;access_token=" + tok + "&c=2", "", "/a?c=2"},
		{"other names kept", query, "/a?access_token_x=1&xaccess_token=2", "", "/a?access_token_x=1&xaccess_token=2"},
		{"refused before the query is read", headerAndQuery, "/a?access_token=" + tok, "Bearer\t" + tok, "/a"},
		{"header and query (refused)", headerAndQuery, "/a?access_token=" + tok, "Bearer " + tok, "/a"},
		{"not a query source", nil, "/a?access_token=" + tok, "", "/a?access_token=" + tok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			_, _, _ = Extractor{Sources: tc.sources}.Extract(r)
			if r.RequestURI != tc.want {
				t.Errorf("RequestURI = %q, want %q", r.RequestURI, tc.want)
			}
			if got := r.URL.RequestURI(); got != tc.want {
				t.Errorf("URL = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestToken68Spellings holds the interpreter's spelling of isToken68 to the compiled one.
func TestToken68Spellings(t *testing.T) {
	inputs := []string{"", "=", "==", "a", "a=", "a==", "=a", "a=b", "eyJh.eyJz.c2ln", "a b", "a\tb", "é"}
	for c := range 256 {
		inputs = append(inputs, string([]byte{byte(c)}), "ab"+string([]byte{byte(c)})+"=")
	}
	for _, s := range inputs {
		if isToken68(s) != isToken68Trim(s) {
			t.Errorf("%q: isToken68 %v, isToken68Trim %v", s, isToken68(s), isToken68Trim(s))
		}
	}
}
