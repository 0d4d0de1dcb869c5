package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// documentedCaddyfile is a Caddyfile of the documentation or the examples.
type documentedCaddyfile struct {
	name string // where it is, e.g. README.md:272
	text string // adaptable: a fragment is wrapped into a site block
}

// documentedCaddyfiles returns every Caddyfile of README.md, CONTRIBUTING.md, docs/ and examples/
// (the ```caddyfile blocks of their Markdown files, and the files named Caddyfile*), and
// Caddyfile.example.
// README blocks that are a fragment of a site (a directive or two, as `jwt_auth /api/* { ... }`
// or `log { ... }`) are wrapped into a site block; none is skipped: a block that cannot be made
// adaptable this way fails the test, to be fixed or listed here with the reason.
func documentedCaddyfiles(t *testing.T) []documentedCaddyfile {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var out []documentedCaddyfile
	read := func(rel string) string {
		raw, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	markdown := []string{"README.md", "CONTRIBUTING.md"}
	files := []string{"Caddyfile.example"}
	for _, dir := range []string{"examples", "docs"} {
		err = filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			switch {
			case d.IsDir():
			case strings.HasSuffix(d.Name(), ".md"):
				markdown = append(markdown, rel)
			case strings.HasPrefix(d.Name(), "Caddyfile"):
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, rel := range files {
		out = append(out, documentedCaddyfile{name: rel, text: read(rel)})
	}
	for _, rel := range markdown {
		lines := strings.Split(read(rel), "\n")
		for i := 0; i < len(lines); i++ {
			if strings.TrimSpace(lines[i]) != "```caddyfile" {
				continue
			}
			start := i + 1
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			}
			block := strings.Join(lines[start:i], "\n") + "\n"
			if isFragment(block) {
				block = "example.com {\n" + block + "}\n"
			}
			out = append(out, documentedCaddyfile{name: rel + ":" + strconv.Itoa(start+1), text: block})
		}
	}
	return out
}

// isFragment reports whether a Caddyfile block is part of a site rather than a whole Caddyfile:
// whole ones start with the global options block or a site address.
func isFragment(block string) bool {
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		first := strings.Fields(line)[0]
		// A snippet definition, (name) {, is top-level Caddyfile syntax like a site block.
		snippet := strings.HasPrefix(first, "(") && strings.HasSuffix(first, ")")
		return first != "{" && !snippet && !strings.ContainsAny(first, ".:") && first != "localhost"
	}
	return false
}

// What the documented Caddyfiles load when the configuration is: files and runtime placeholders.
var (
	loadedFile  = regexp.MustCompile(`(?m)^\s*(?:users_file|public_key|jwks_file|login_page|signing_key\s+file)\s+(\S+)`)
	placeholder = regexp.MustCompile(`\{(env|file)\.([^}]+)\}`)
)

// TestAdaptDocumentedCaddyfiles: `caddy adapt` of every Caddyfile of the README, docs/ and the examples
// succeeds on a machine without the users, key, template and secret files they name and without
// the environment variables of their {env.*} secrets: the Caddyfile parsers read tokens only,
// and what they name is loaded by `caddy run` (or `caddy validate`) on the server that has it.
func TestAdaptDocumentedCaddyfiles(t *testing.T) {
	t.Parallel()
	docs := documentedCaddyfiles(t)
	if len(docs) < 10 {
		t.Fatalf("found %d Caddyfiles in README.md, docs/, examples/ and Caddyfile.example; the extraction is broken", len(docs))
	}
	for _, doc := range docs {
		t.Run(doc.name, func(t *testing.T) {
			t.Parallel()
			// The test proves something only where what the Caddyfile names is absent. Its
			// relative paths are looked up in caddyCommand's empty temporary directory.
			var env []string
			for _, m := range loadedFile.FindAllStringSubmatch(doc.text, -1) {
				if filepath.IsAbs(m[1]) {
					if _, err := os.Stat(m[1]); err == nil {
						t.Fatalf("%s exists on this machine; run the test where it does not", m[1])
					}
				}
			}
			for _, m := range placeholder.FindAllStringSubmatch(doc.text, -1) {
				switch m[1] {
				case "env":
					// Given empty whatever the test's environment holds: to Caddy's {env.*}
					// an empty variable is an unset one.
					env = append(env, m[2]+"=")
				case "file":
					if _, err := os.Stat(m[2]); filepath.IsAbs(m[2]) && err == nil {
						t.Fatalf("%s exists on this machine; run the test where it does not", m[2])
					}
				}
			}
			out, code := caddyCommand(t, "adapt", doc.text, env...)
			if code != 0 {
				t.Fatalf("caddy adapt failed with %d:\n%s\n%s", code, out, doc.text)
			}
			for _, handler := range []string{"jwt_auth", "jwt_issuer"} {
				if regexp.MustCompile(`(?m)^\s*` + handler + `\b`).MatchString(doc.text) {
					requireContains(t, "adapted JSON", out, `"handler":"`+handler+`"`)
				}
			}
		})
	}
}

// TestValidateReportsMissingFilesAtDirective: `caddy validate` (and so `caddy run`) of a
// Caddyfile whose key, users or template file or {env.*} secret is missing fails, with the
// file:line of the directive that names it and what is missing; `caddy adapt` of the same
// Caddyfile succeeds.
func TestValidateReportsMissingFilesAtDirective(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing")
	user := "user bob " + bobHash + "\n\t\t"
	tests := []struct {
		name      string
		caddyfile string
		at        string // "Caddyfile:<line>: ", the directive's place
		want      []string
	}{
		{"public_key", "http://:8080 {\n\trespond /x ok\n\tjwt_auth {\n\t\tpublic_key " + missing + ".pem\n\t}\n\trespond ok\n}\n",
			"Caddyfile:3: ", []string{"public_key " + missing + ".pem: cannot read the file: no such file or directory"}},
		{"jwks_file", "http://:8080 {\n\tjwt_auth {\n\t\tjwks_file " + missing + ".json\n\t}\n\trespond ok\n}\n",
			"Caddyfile:2: ", []string{"jwks_file " + missing + ".json: cannot read the file"}},
		{"jwt_auth secret variable", "http://:8080 {\n\tjwt_auth {\n\t\tsecret {env.IT_UNSET_SECRET}\n\t}\n\trespond ok\n}\n",
			"Caddyfile:2: ", []string{"secret {env.IT_UNSET_SECRET}: the environment variable IT_UNSET_SECRET is empty"}},
		{"users_file", "http://:8080 {\n\trespond /x ok\n\tjwt_issuer /api/token/* {\n\t\tusers_file " + missing + "\n\t}\n}\n",
			"Caddyfile:3: ", []string{"cannot open the users file", missing}},
		{"signing_key file", "http://:8080 {\n\tjwt_issuer /api/token/* {\n\t\t" + user + "signing_key file " + missing + ".pem\n\t}\n}\n",
			"Caddyfile:2: ", []string{"signing_key file " + missing + ".pem: cannot read the file"}},
		{"signing_key secret variable", "http://:8080 {\n\tjwt_issuer /api/token/* {\n\t\t" + user + "signing_key secret {env.IT_UNSET_SECRET}\n\t}\n}\n",
			"Caddyfile:2: ", []string{"signing_key secret {env.IT_UNSET_SECRET}: the environment variable IT_UNSET_SECRET is empty"}},
		{"login_page", "http://:8080 {\n\tjwt_issuer /api/token/* {\n\t\t" + user + "session {\n\t\t\tlogin_page " + missing + ".html\n\t\t}\n\t}\n}\n",
			"Caddyfile:2: ", []string{"session login_page: ", missing + ".html"}},
		// An issuer of the gatehouse global option is reported at the option, not at the
		// jwt_issuer that serves it.
		{"global issuer users_file", "{\n\tgatehouse {\n\t\tissuer home {\n\t\t\tusers_file " + missing + "\n\t\t}\n\t}\n}\nhttp://:8080 {\n\tjwt_issuer /auth/* home\n}\n",
			"Caddyfile:3: ", []string{"cannot open the users file", missing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if out, code := caddyCommand(t, "adapt", tt.caddyfile); code != 0 {
				t.Fatalf("caddy adapt failed with %d:\n%s", code, out)
			}
			out, code := caddyCommand(t, "validate", tt.caddyfile, "IT_UNSET_SECRET=")
			if code == 0 {
				t.Fatalf("caddy validate succeeded, want an error; output:\n%s", out)
			}
			requireContains(t, "output", out, append([]string{tt.at}, tt.want...)...)
		})
	}
}
