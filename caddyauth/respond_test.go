package caddyauth

import (
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/verify"
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
		if got := quotable(tt.in); got != tt.want {
			t.Errorf("quotable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestAnswer checks the mapping from refusal to status and challenge.
func TestAnswer(t *testing.T) {
	c := newChallenges("api")
	tests := []struct {
		e         verify.Error
		status    int
		challenge string
		body      []byte
	}{
		{verify.Error{Status: 401, Reason: verify.ReasonMissing}, 401, `Bearer realm="api"`, bodyMissing},
		{verify.Error{Status: 400, Reason: verify.ReasonMultiple}, 400, `Bearer realm="api", error="invalid_request"`, bodyMultiple},
		{verify.Error{Status: 403, Reason: verify.ReasonScope}, 403, `Bearer realm="api", error="insufficient_scope"`, bodyForbidden},
		{verify.Error{Status: 401, Reason: verify.ReasonExpired, Description: "token has expired"}, 401,
			`Bearer realm="api", error="invalid_token", error_description="token has expired"`, bodyInvalid},
		{verify.Error{Status: 401, Reason: verify.ReasonTokenType, Description: `token_type is not "access"`}, 401,
			`Bearer realm="api", error="invalid_token", error_description="token_type is not 'access'"`, bodyWrongType},
	}
	for _, tt := range tests {
		status, ch, body := c.answer(&tt.e)
		if status != tt.status || ch != tt.challenge || string(body) != string(tt.body) {
			t.Errorf("%s: got %d %q %s", tt.e.Reason, status, ch, body)
		}
	}
	if status, _, _ := c.answer(&verify.Error{Status: http.StatusForbidden, Reason: "future_reason"}); status != 403 {
		t.Errorf("a 403 error of an unknown reason answered %d", status)
	}
}
