package issuer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxBody is the largest request body read. Credentials and tokens are a few hundred bytes; a
// body much larger than that is not a token request, and reading it would only cost memory.
const maxBody = 64 << 10

// valueKind is what a submitted value is, as far as a DRF CharField cares.
type valueKind uint8

const (
	// textValue is a string, or a JSON number (DRF's CharField takes numbers as their text).
	textValue valueKind = iota + 1
	// nullValue is a JSON null.
	nullValue
	// otherValue is a JSON bool, array or object: not a valid string.
	otherValue
	// surrogateValue is a JSON string with a lone surrogate escape (\ud800), which Python keeps
	// and DRF refuses; surrogate holds the first one.
	surrogateValue
)

// value is one submitted field.
type value struct {
	kind      valueKind
	text      string
	surrogate rune
}

// fields is a decoded request body: the members of a JSON object or the fields of a form.
type fields map[string]value

// readFields reads and decodes r's body as DRF's default parsers would: JSON, URL-encoded form
// or multipart form, at most maxBody bytes.
func readFields(r *http.Request) (fields, *problem) {
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		// Compressed bodies are not parsed (they would also sidestep the size limit).
		return nil, detailProblem(http.StatusUnsupportedMediaType, `Unsupported content encoding "`+clip(ce)+`" in request.`)
	}
	if r.ContentLength > maxBody {
		return nil, problemTooLarge
	}
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = readBody(r.Body, r.ContentLength); err != nil {
			return nil, detailProblem(http.StatusBadRequest, "The request body could not be read.")
		}
	}
	if len(body) > maxBody {
		return nil, problemTooLarge
	}
	return decodeBody(r.Header.Get("Content-Type"), body)
}

// readBody reads at most maxBody+1 bytes of body, in one allocation when its length is known.
func readBody(body io.Reader, length int64) ([]byte, error) {
	if length < 0 {
		return io.ReadAll(io.LimitReader(body, maxBody+1))
	}
	// One more byte than announced, so that a body longer than its Content-Length (which
	// net/http's server does not let through, but an adapter might) is refused, not cut.
	// Exactly length bytes is the whole body, whatever the reader said after them.
	b := make([]byte, length+1)
	n, _ := io.ReadFull(body, b)
	switch {
	case n > int(length):
		return nil, errors.New("the body is longer than its Content-Length")
	case n < int(length):
		// A client that went away mid-body: a cut form could still parse.
		return nil, errors.New("the body is shorter than its Content-Length")
	}
	return b[:n], nil
}

// decodeBody decodes body according to contentType. An empty body is an empty set of fields
// whatever its type, as in DRF, so that it answers "This field is required.".
func decodeBody(contentType string, body []byte) (fields, *problem) {
	if len(body) == 0 {
		return fields{}, nil
	}
	unsupported := detailProblem(http.StatusUnsupportedMediaType, `Unsupported media type "`+clip(contentType)+`" in request.`)
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, unsupported
	}
	switch mt {
	case "application/json", "application/x-www-form-urlencoded":
		// Bodies are read as UTF-8 (the JSON and web form default); another declared charset
		// would be decoded differently by DRF, so it is refused rather than misread.
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			return nil, unsupported
		}
		if mt == "application/json" {
			return decodeJSON(body)
		}
		return decodeForm(body)
	case "multipart/form-data":
		return decodeMultipart(body, params["boundary"])
	}
	return nil, unsupported
}

// decodeJSON decodes a JSON object's members. Unlike Python's json module it refuses duplicate
// member names (which value counts would depend on the parser).
func decodeJSON(body []byte) (fields, *problem) {
	if !utf8.Valid(body) {
		return nil, parseProblem("JSON parse error - the body is not valid UTF-8")
	}
	if !json.Valid(body) {
		// Only now is the (allocating) decoder run, for the error's position.
		return nil, parseProblem("JSON parse error - " + syntaxMessage(body, json.Unmarshal(body, new(json.RawMessage))))
	}
	// The body is valid JSON from here on: the decoder can only see a structure it expects.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	first, _ := dec.Token()
	if d, ok := first.(json.Delim); !ok || d != '{' {
		return nil, notAnObject(first)
	}
	f := fields{}
	for dec.More() {
		name, _ := dec.Token()
		key, _ := name.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, parseProblem("JSON parse error - " + err.Error())
		}
		if _, dup := f[key]; dup {
			return nil, parseProblem("JSON parse error - duplicate member name")
		}
		f[key] = jsonValue(raw)
	}
	return f, nil
}

// jsonValue classifies one member value.
func jsonValue(raw json.RawMessage) value {
	switch raw[0] {
	case '"':
		if r := loneSurrogate(raw); r != 0 {
			return value{kind: surrogateValue, surrogate: r}
		}
		var s string
		_ = json.Unmarshal(raw, &s) // valid: checked by decodeJSON
		return value{kind: textValue, text: s}
	case 'n':
		return value{kind: nullValue}
	case 't', 'f', '[', '{':
		return value{kind: otherValue}
	}
	// A number, as written: DRF's CharField takes str() of it.
	return value{kind: textValue, text: string(raw)}
}

// loneSurrogate returns the first \u escape of a UTF-16 surrogate that is not part of a pair in
// the JSON string literal s, or 0. encoding/json would silently replace it with U+FFFD.
func loneSurrogate(s []byte) rune {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		i++
		if s[i] != 'u' {
			continue
		}
		r := hex4(s[i+1:])
		i += 4
		switch {
		case r >= 0xd800 && r < 0xdc00:
			if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if lo := hex4(s[i+3:]); lo >= 0xdc00 && lo < 0xe000 {
					i += 6
					continue
				}
			}
			return r
		case r >= 0xdc00 && r < 0xe000:
			return r
		}
	}
	return 0
}

// hex4 decodes four hex digits (valid JSON guarantees them after \u).
func hex4(b []byte) rune {
	n, _ := strconv.ParseUint(string(b[:4]), 16, 32)
	return rune(n)
}

// syntaxMessage describes a JSON syntax error by position, the way Python's json module does,
// without quoting the body.
func syntaxMessage(body []byte, err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return "invalid JSON"
	}
	pos := int(se.Offset)
	if pos >= len(body) {
		return "unexpected end of input"
	}
	if pos > 0 {
		pos-- // Offset counts the offending byte; Python points at it
	}
	before := body[:pos]
	line := bytes.Count(before, []byte("\n")) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return "invalid JSON at line " + strconv.Itoa(line) + " column " + strconv.Itoa(col) +
		" (char " + strconv.Itoa(utf8.RuneCount(before)) + ")"
}

// notAnObject is DRF's answer to a JSON body that is not an object, naming the Python type the
// value decodes to.
func notAnObject(tok json.Token) *problem {
	var typ string
	switch v := tok.(type) {
	case nil:
		return fieldProblem([]fieldError{{name: "non_field_errors", msg: "This field may not be null."}})
	case json.Delim:
		typ = "list"
	case string:
		typ = "str"
	case bool:
		typ = "bool"
	case json.Number:
		typ = "int"
		if strings.ContainsAny(string(v), ".eE") {
			typ = "float"
		}
	}
	return fieldProblem([]fieldError{{name: "non_field_errors", msg: "Invalid data. Expected a dictionary, but got " + typ + "."}})
}

// decodeForm decodes an application/x-www-form-urlencoded body. Malformed escapes are refused
// rather than guessed at. Invalid UTF-8 is replaced, as Django's QueryDict does.
func decodeForm(body []byte) (fields, *problem) {
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, parseProblem("Form parse error - the body is not valid URL-encoded form data")
	}
	f := make(fields, len(q))
	for name, vs := range q {
		if len(vs) > 1 {
			return nil, parseProblem("Form parse error - a field is given more than once")
		}
		f[strings.ToValidUTF8(name, "\uFFFD")] = value{kind: textValue, text: strings.ToValidUTF8(vs[0], "\uFFFD")}
	}
	return f, nil
}

// decodeMultipart decodes a multipart/form-data body. Parts with a file name are uploads, which
// DRF keeps apart from the data: they are skipped.
func decodeMultipart(body []byte, boundary string) (fields, *problem) {
	if boundary == "" {
		return nil, parseProblem("Multipart form parse error - the content type has no boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	f := fields{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return nil, parseProblem("Multipart form parse error - the body is not valid multipart data")
		}
		name := p.FormName()
		if name == "" || p.FileName() != "" {
			continue
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, parseProblem("Multipart form parse error - the body is not valid multipart data")
		}
		name = strings.ToValidUTF8(name, "\uFFFD")
		if _, dup := f[name]; dup {
			return nil, parseProblem("Multipart form parse error - a field is given more than once")
		}
		f[name] = value{kind: textValue, text: strings.ToValidUTF8(string(data), "\uFFFD")}
	}
}

// charFields validates the named fields as DRF's CharField does (required, not null, a string or
// a number, surrounding whitespace trimmed, not blank, no NUL, no lone surrogate) and returns
// their values in order, or the field errors of all of them in that order.
func (f fields) charFields(names ...string) ([]string, *problem) {
	out := make([]string, len(names))
	var errs []fieldError
	for i, name := range names {
		v, ok := f[name]
		msg := ""
		switch {
		case !ok:
			msg = "This field is required."
		case v.kind == nullValue:
			msg = "This field may not be null."
		case v.kind == otherValue:
			msg = "Not a valid string."
		case v.kind == surrogateValue:
			msg = "Surrogate characters are not allowed: U+" + strings.ToUpper(strconv.FormatInt(int64(v.surrogate), 16)) + "."
		default:
			s := strings.TrimFunc(v.text, isPySpace)
			switch {
			case s == "":
				msg = "This field may not be blank."
			case strings.IndexByte(s, 0) >= 0:
				msg = "Null characters are not allowed."
			}
			out[i] = s
		}
		if msg != "" {
			errs = append(errs, fieldError{name: name, msg: msg})
		}
	}
	if errs != nil {
		return nil, fieldProblem(errs)
	}
	return out, nil
}

// isPySpace reports whether Python's str.strip, which DRF's CharField trims with, removes r:
// Unicode white space plus the ASCII separators U+001C..U+001F.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// clip shortens s (a header value quoted in a message) to at most 100 bytes of valid UTF-8.
func clip(s string) string {
	const n = 100
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
