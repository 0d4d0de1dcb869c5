package issuer

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const (
	ctJSON = "application/json"
	ctForm = "application/x-www-form-urlencoded"
)

// multipartBody builds a multipart/form-data body of fields (name, value pairs) and returns its
// content type too. A name starting with "file:" is sent as a file upload.
func multipartBody(t testing.TB, pairs ...string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < len(pairs); i += 2 {
		var (
			w   io.Writer
			err error
		)
		if name, ok := strings.CutPrefix(pairs[i], "file:"); ok {
			w, err = mw.CreateFormFile(name, "upload.txt")
		} else {
			w, err = mw.CreateFormField(pairs[i])
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, pairs[i+1])
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// TestDecodeBody checks each parser and DRF's field rules (as applied to username and
// password) through the body that both produce.
func TestDecodeBody(t *testing.T) {
	mpCT, mpBody := multipartBody(t, "username", " alice ", "password", "s3cret", "other", "x")
	mpFileCT, mpFileBody := multipartBody(t, "file:username", "alice", "password", "s3cret")
	mpDupCT, mpDupBody := multipartBody(t, "username", "a", "username", "b", "password", "p")
	const required = `{"username":["This field is required."],"password":["This field is required."]}`
	tests := []struct {
		name     string
		ct, body string
		status   int    // 0: the fields decode and validate
		want     string // the problem body, or username + "|" + password
	}{
		{"json", ctJSON, `{"username":"alice","password":"s3cret"}`, 0, "alice|s3cret"},
		{"json charset", ctJSON + "; charset=UTF-8", `{"username":"alice","password":"s3cret"}`, 0, "alice|s3cret"},
		{"json escapes", ctJSON, `{"username":"al\u00efce","password":"\ud83d\ude00 \"q\""}`, 0, "alïce|😀 \"q\""},
		{"json numbers are text", ctJSON, `{"username":7,"password":1.50}`, 0, "7|1.50"},
		{"json extra members ignored", ctJSON, `{"username":"a","password":"b","remember":true}`, 0, "a|b"},
		{"whitespace trimmed", ctJSON, `{"username":"\t alice\n","password":"\u00a0pw\u001f"}`, 0, "alice|pw"},
		{"inner whitespace kept", ctJSON, `{"username":"al ice","password":"p w"}`, 0, "al ice|p w"},
		{"form", ctForm, `username=alice&password=s3%26cret+x`, 0, "alice|s3&cret x"},
		{"form invalid utf-8 replaced", ctForm, `username=al%FFice&password=p`, 0, "al\uFFFDice|p"},
		{"multipart", mpCT, string(mpBody), 0, "alice|s3cret"},
		{"empty body", ctJSON, ``, 400, required},
		{"empty body any type", "text/plain", ``, 400, required},
		{"empty object", ctJSON, `{}`, 400, required},
		{"one missing", ctJSON, `{"password":"x"}`, 400, `{"username":["This field is required."]}`},
		{"blank", ctJSON, `{"username":"","password":"  "}`, 400, `{"username":["This field may not be blank."],"password":["This field may not be blank."]}`},
		{"null", ctJSON, `{"username":null,"password":"x"}`, 400, `{"username":["This field may not be null."]}`},
		{"bool", ctJSON, `{"username":true,"password":"x"}`, 400, `{"username":["Not a valid string."]}`},
		{"array and object", ctJSON, `{"username":["a"],"password":{"a":1}}`, 400, `{"username":["Not a valid string."],"password":["Not a valid string."]}`},
		{"NUL", ctJSON, `{"username":"a\u0000b","password":"x"}`, 400, `{"username":["Null characters are not allowed."]}`},
		{"lone surrogate", ctJSON, `{"username":"a\ud800","password":"\udc00\ud83d\ude00"}`, 400, `{"username":["Surrogate characters are not allowed: U+D800."],"password":["Surrogate characters are not allowed: U+DC00."]}`},
		{"form blank", ctForm, `username=&password=x`, 400, `{"username":["This field may not be blank."]}`},
		{"multipart file is not a field", mpFileCT, string(mpFileBody), 400, `{"username":["This field is required."]}`},
		{"json list", ctJSON, `[1,2]`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}`},
		{"json string", ctJSON, `"x"`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got str."]}`},
		{"json int", ctJSON, `12`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got int."]}`},
		{"json float", ctJSON, `1e3`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got float."]}`},
		{"json bool", ctJSON, `false`, 400, `{"non_field_errors":["Invalid data. Expected a dictionary, but got bool."]}`},
		{"json null", ctJSON, `null`, 400, `{"non_field_errors":["This field may not be null."]}`},
		{"json syntax", ctJSON, `{"username":x}`, 400, `{"detail":"JSON parse error - invalid JSON at line 1 column 13 (char 12)"}`},
		{"json syntax line", ctJSON, "{\n \"é\":1,\n x}", 400, `{"detail":"JSON parse error - invalid JSON at line 3 column 2 (char 11)"}`},
		{"json truncated", ctJSON, `{"username":"alice"`, 400, `{"detail":"JSON parse error - unexpected end of input"}`},
		{"json whitespace only", ctJSON, `  `, 400, `{"detail":"JSON parse error - unexpected end of input"}`},
		{"json trailing data", ctJSON, `{}{}`, 400, `{"detail":"JSON parse error - invalid JSON at line 1 column 3 (char 2)"}`},
		{"json invalid utf-8", ctJSON, "{\"username\":\"\xff\"}", 400, `{"detail":"JSON parse error - the body is not valid UTF-8"}`},
		{"json duplicate", ctJSON, `{"username":"a","username":"b","password":"p"}`, 400, `{"detail":"JSON parse error - duplicate member name"}`},
		{"form bad escape", ctForm, `username=%zz&password=p`, 400, `{"detail":"Form parse error - the body is not valid URL-encoded form data"}`},
		{"form duplicate", ctForm, `username=a&username=b&password=p`, 400, `{"detail":"Form parse error - a field is given more than once"}`},
		{"multipart duplicate", mpDupCT, string(mpDupBody), 400, `{"detail":"Multipart form parse error - a field is given more than once"}`},
		{"multipart no boundary", "multipart/form-data", "--x\r\n", 400, `{"detail":"Multipart form parse error - the content type has no boundary"}`},
		{"multipart garbage", "multipart/form-data; boundary=zz", "not multipart", 400, `{"detail":"Multipart form parse error - the body is not valid multipart data"}`},
		{"text/plain", "text/plain", `username=a`, 415, `{"detail":"Unsupported media type \"text/plain\" in request."}`},
		{"no content type", "", `{}`, 415, `{"detail":"Unsupported media type \"\" in request."}`},
		{"json lookalike", "application/json-patch+json", `{}`, 415, `{"detail":"Unsupported media type \"application/json-patch+json\" in request."}`},
		{"other charset", ctJSON + "; charset=latin-1", `{}`, 415, `{"detail":"Unsupported media type \"application/json; charset=latin-1\" in request."}`},
		{"bad media type", "application/json; =", `{}`, 415, `{"detail":"Unsupported media type \"application/json; =\" in request."}`},
		{"html not escaped", "text/<b>", `{}`, 415, `{"detail":"Unsupported media type \"text/<b>\" in request."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := decodeBody(tt.ct, []byte(tt.body))
			var vals []string
			if p == nil {
				vals, p = f.charFields("username", "password")
			}
			if tt.status == 0 {
				if p != nil {
					t.Fatalf("refused: %d %s", p.status, p.body)
				}
				if got := vals[0] + "|" + vals[1]; got != tt.want {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
				return
			}
			if p == nil {
				t.Fatalf("accepted %q, want %d %s", vals, tt.status, tt.want)
			}
			if p.status != tt.status || string(p.body) != tt.want {
				t.Fatalf("got %d %s\nwant %d %s", p.status, p.body, tt.status, tt.want)
			}
		})
	}
}

// TestReadFields checks what decodeBody does not see: the size limit and content codings.
func TestReadFields(t *testing.T) {
	ok := `{"username":"alice","password":"pw"}`
	pad := strings.Repeat(" ", maxBody-len(ok))
	tooLarge := `{"detail":"Request body too large: the limit is 65536 bytes."}`
	tests := []struct {
		name     string
		body     string
		length   int64 // Content-Length; -1 unknown (chunked)
		encoding string
		status   int
		want     string
	}{
		{"at the limit", ok + pad, int64(maxBody), "", 0, ""},
		{"at the limit, chunked", ok + pad, -1, "", 0, ""},
		{"one byte over", ok + pad + " ", int64(maxBody + 1), "", 413, tooLarge},
		{"one byte over, chunked", ok + pad + " ", -1, "", 413, tooLarge},
		{"declared too large", ok, 1 << 30, "", 413, tooLarge},
		{"longer than announced", ok, 10, "", 400, `{"detail":"The request body could not be read."}`},
		{"shorter than announced", ok, 100, "", 400, `{"detail":"The request body could not be read."}`},
		{"identity coding", ok, -1, "identity", 0, ""},
		{"gzip coding", ok, -1, "gzip", 415, `{"detail":"Unsupported content encoding \"gzip\" in request."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			r.ContentLength = tt.length
			r.Header.Set("Content-Type", ctJSON)
			if tt.encoding != "" {
				r.Header.Set("Content-Encoding", tt.encoding)
			}
			f, p := readFields(r)
			if tt.status == 0 {
				if p != nil {
					t.Fatalf("refused: %d %s", p.status, p.body)
				}
				if f["username"].text != "alice" {
					t.Fatalf("fields = %v", f)
				}
				return
			}
			if p == nil || p.status != tt.status || string(p.body) != tt.want {
				t.Fatalf("got %+v, want %d %s", p, tt.status, tt.want)
			}
		})
	}
}

// TestThrottled checks DRF's Throttled wording and the Retry-After rounding.
func TestThrottled(t *testing.T) {
	tests := []struct {
		wait  time.Duration
		after int
		want  string
	}{
		{0, 1, `{"detail":"Request was throttled. Expected available in 1 second."}`},
		{300 * time.Millisecond, 1, `{"detail":"Request was throttled. Expected available in 1 second."}`},
		{time.Second, 1, `{"detail":"Request was throttled. Expected available in 1 second."}`},
		{1001 * time.Millisecond, 2, `{"detail":"Request was throttled. Expected available in 2 seconds."}`},
		{time.Minute, 60, `{"detail":"Request was throttled. Expected available in 60 seconds."}`},
	}
	for _, tt := range tests {
		p := throttled(tt.wait)
		if p.status != http.StatusTooManyRequests || p.retryAfter != tt.after || string(p.body) != tt.want {
			t.Errorf("throttled(%s) = %d %d %s, want 429 %d %s", tt.wait, p.status, p.retryAfter, p.body, tt.after, tt.want)
		}
	}
}

// FuzzRequestDecoding feeds arbitrary content types and bodies to the request decoder: it must
// never panic, refuse only with 400 or 415 and a JSON body, hand out valid UTF-8, and agree with
// encoding/json on what a JSON body contains. Seeds are in testdata/fuzz/FuzzRequestDecoding.
func FuzzRequestDecoding(f *testing.F) {
	f.Add(ctJSON, []byte(`{"username":"alice","password":"s3cret"}`))
	f.Add(ctForm, []byte(`username=alice&password=s3cret`))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		fs, p := decodeBody(ct, body)
		if (fs == nil) == (p == nil) {
			t.Fatalf("fields %v and problem %v", fs, p)
		}
		if p != nil {
			if p.status != http.StatusBadRequest && p.status != http.StatusUnsupportedMediaType {
				t.Fatalf("status %d", p.status)
			}
			var obj map[string]any
			if err := json.Unmarshal(p.body, &obj); err != nil {
				t.Fatalf("problem body %q is not a JSON object: %v", p.body, err)
			}
			return
		}
		for name, v := range fs {
			if !utf8.ValidString(name) || !utf8.ValidString(v.text) {
				t.Fatalf("invalid UTF-8 in %q: %q", name, v.text)
			}
		}
		if vals, p := fs.charFields("username", "password"); p == nil {
			for _, v := range vals {
				if v == "" || strings.IndexByte(v, 0) >= 0 || strings.TrimFunc(v, isPySpace) != v {
					t.Fatalf("charFields let %q through", v)
				}
			}
		} else if p.status != http.StatusBadRequest || !json.Valid(p.body) {
			t.Fatalf("charFields problem %d %q", p.status, p.body)
		}
		if !strings.HasPrefix(ct, ctJSON) || len(body) == 0 {
			return
		}
		// A JSON body was accepted: encoding/json must read the same members from it.
		var ref map[string]json.RawMessage
		if err := json.Unmarshal(body, &ref); err != nil || !utf8.Valid(body) {
			t.Fatalf("accepted a body encoding/json refuses: %v", err)
		}
		if len(ref) != len(fs) {
			t.Fatalf("%d members, encoding/json finds %d", len(fs), len(ref))
		}
		for name, raw := range ref {
			v, ok := fs[name]
			if !ok {
				t.Fatalf("member %q missing", name)
			}
			var x any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			_ = d.Decode(&x)
			switch x := x.(type) {
			case nil:
				if v.kind != nullValue {
					t.Fatalf("%q: null decoded as %v", name, v)
				}
			case string:
				if v.kind != surrogateValue && (v.kind != textValue || v.text != x) {
					t.Fatalf("%q: %q decoded as %v", name, x, v)
				}
			case json.Number:
				if v.kind != textValue || v.text != string(x) {
					t.Fatalf("%q: %s decoded as %v", name, x, v)
				}
			default:
				if v.kind != otherValue {
					t.Fatalf("%q: %T decoded as %v", name, x, v)
				}
			}
		}
	})
}
