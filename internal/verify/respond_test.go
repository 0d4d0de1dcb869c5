package verify

import (
	"net/http"
	"testing"
)

func TestQuotable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"token has expired", "token has expired"},
		{`say "hi"`, "say 'hi'"},
		{"a\\b", "ab"},
		{"line\r\nbreak\x00", "linebreak"},
		{"caf\u00e9", "caf"},
		{"", "token is invalid"},
		{"\x01\x02", "token is invalid"},
	}
	for _, tt := range tests {
		if got := Quotable(tt.in); got != tt.want {
			t.Errorf("Quotable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestAnswer checks the mapping from refusal to status and challenge.
func TestAnswer(t *testing.T) {
	c := NewChallenges("api")
	tests := []struct {
		e         Error
		status    int
		challenge string
		body      []byte
	}{
		{Error{Status: 401, Reason: ReasonMissing}, 401, `Bearer realm="api"`, BodyMissing},
		{Error{Status: 400, Reason: ReasonMultiple}, 400, `Bearer realm="api", error="invalid_request"`, BodyMultiple},
		{Error{Status: 403, Reason: ReasonScope}, 403, `Bearer realm="api", error="insufficient_scope"`, BodyForbidden},
		{Error{Status: 401, Reason: ReasonExpired, Description: "token has expired"}, 401,
			`Bearer realm="api", error="invalid_token", error_description="token has expired"`, BodyInvalid},
		{Error{Status: 401, Reason: ReasonTokenType, Description: `token_type is not "access"`}, 401,
			`Bearer realm="api", error="invalid_token", error_description="token_type is not 'access'"`, BodyWrongType},
	}
	for _, tt := range tests {
		status, ch, body := c.Answer(&tt.e)
		if status != tt.status || ch != tt.challenge || string(body) != string(tt.body) {
			t.Errorf("%s: got %d %q %s", tt.e.Reason, status, ch, body)
		}
	}
	if status, _, _ := c.Answer(&Error{Status: http.StatusForbidden, Reason: "future_reason"}); status != 403 {
		t.Errorf("a 403 error of an unknown reason answered %d", status)
	}
}

// TestRemoveHeaders checks that the identity headers go, with their underscore spellings (which
// CGI servers read as the same variable), and that other headers stay.
func TestRemoveHeaders(t *testing.T) {
	h := http.Header{
		"X-User-Id": {"spoof"}, "X_user_id": {"spoof"}, "X_User-Id": {"spoof"},
		"X-User-Idx": {"keep"}, "X-Other": {"keep"}, "Authorization": {"keep"},
	}
	RemoveHeaders(h, []string{"X-User-Id"})
	for name := range h {
		if v := h.Get(name); v != "keep" {
			t.Errorf("%s: %q left", name, v)
		}
	}
	if len(h) != 3 {
		t.Errorf("headers left: %v, want the three others", h)
	}
	RemoveHeaders(h, nil)
	if len(h) != 3 {
		t.Errorf("RemoveHeaders with no names removed headers: %v", h)
	}
}
