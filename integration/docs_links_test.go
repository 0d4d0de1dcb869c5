package integration

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// pendingDocs are pages that other branches write in parallel and that README.md and docs/
// already link to. A link to one of them is accepted while the page does not exist; once it
// does, its links (anchors included) are checked like any other. Remove an entry when its page
// has landed.
var pendingDocs = map[string]bool{}

var (
	markdownLink = regexp.MustCompile(`\]\(([^()\s]+)\)`)
	inlineCode   = regexp.MustCompile("`+[^`]*`+")
	hasScheme    = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// documentationPages returns the Markdown files of the repository that users read, relative to
// its root: the top-level ones, and those of docs/, bench/ and examples/.
func documentationPages(t *testing.T, root string) []string {
	t.Helper()
	var pages []string
	for _, name := range []string{"README.md", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md"} {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pages = append(pages, name)
	}
	for _, dir := range []string{"docs", "bench", "examples"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
				rel, _ := filepath.Rel(root, path)
				pages = append(pages, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return pages
}

// markdownLinks returns the targets of the inline links of a Markdown text with their line
// numbers, leaving out fenced code blocks and code spans, where `](x)` is not a link.
func markdownLinks(text string) (targets []string, lines []int) {
	fenced := false
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, m := range markdownLink.FindAllStringSubmatch(inlineCode.ReplaceAllString(line, ""), -1) {
			targets = append(targets, m[1])
			lines = append(lines, i+1)
		}
	}
	return targets, lines
}

// headingAnchors returns the anchors GitHub gives a Markdown file's headings: lower case, with
// everything but letters, digits, spaces, "-" and "_" dropped and spaces made "-"; a repeated
// heading gets "-1", "-2"...
func headingAnchors(text string) map[string]bool {
	anchors := make(map[string]bool)
	seen := make(map[string]int)
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		anchor := b.String()
		if n := seen[anchor]; n > 0 {
			seen[anchor]++
			anchor += "-" + strconv.Itoa(n)
		} else {
			seen[anchor] = 1
		}
		anchors[anchor] = true
	}
	return anchors
}

// TestDocsLinks: every relative link of the documentation (README.md, CONTRIBUTING.md,
// SECURITY.md, CHANGELOG.md, docs/, bench/ and examples/) points to a file or folder of the
// repository, and a link with an anchor into a Markdown file to one of its headings; links to
// the pages of pendingDocs are accepted while those pages do not exist.
func TestDocsLinks(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	read := func(rel string) string {
		raw, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	checked := 0
	for _, page := range documentationPages(t, root) {
		targets, lines := markdownLinks(read(page))
		for i, target := range targets {
			if hasScheme.MatchString(target) {
				continue // an absolute URL: not this repository's business
			}
			where := page + ":" + strconv.Itoa(lines[i])
			file, anchor, _ := strings.Cut(target, "#")
			rel := page
			if file != "" {
				rel = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(page), file)))
				if strings.HasPrefix(rel, "../") || filepath.IsAbs(file) {
					t.Errorf("%s: %s leaves the repository", where, target)
					continue
				}
			}
			checked++
			info, err := os.Stat(filepath.Join(root, rel))
			if err != nil {
				if pendingDocs[rel] {
					continue
				}
				t.Errorf("%s: %s: %s does not exist", where, target, rel)
				continue
			}
			if anchor == "" || info.IsDir() || !strings.HasSuffix(rel, ".md") {
				continue
			}
			if !headingAnchors(read(rel))[anchor] {
				t.Errorf("%s: %s: %s has no heading with the anchor #%s", where, target, rel, anchor)
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked %d relative links; the extraction is broken", checked)
	}
}
