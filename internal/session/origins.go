package session

import (
	"fmt"
	"slices"
	"strings"
)

// Origins is a checked list of the other origins whose pages a site trusts with its session:
// exact origins (https://app.example) and patterns whose first label is a wildcard
// (https://*.home.example), which stand for exactly one more label: x.home.example, never
// home.example itself nor a.b.home.example. A pattern's scheme is compared exactly, and its port
// too (none: the scheme's default port only). The zero value trusts no other origin.
type Origins struct {
	exact    []string        // normalized origins
	patterns []originPattern // one-label wildcards
}

// originPattern is scheme://*.<suffix>[:port], normalized.
type originPattern struct {
	scheme, suffix, port string // suffix starts with "."; port "" for the scheme's default
}

// ParseOrigins checks list (origins as NormalizeOrigin takes them, or one-label wildcard
// patterns) and returns it as Origins.
func ParseOrigins(list []string) (Origins, error) {
	var o Origins
	for _, s := range list {
		if !strings.Contains(s, "*") {
			n, err := NormalizeOrigin(s)
			if err != nil {
				return Origins{}, err
			}
			o.exact = append(o.exact, n)
			continue
		}
		p, err := parseOriginPattern(s)
		if err != nil {
			return Origins{}, err
		}
		o.patterns = append(o.patterns, p)
	}
	return o, nil
}

// CheckOrigin returns the error ParseOrigins would give for s.
func CheckOrigin(s string) error {
	_, err := ParseOrigins([]string{s})
	return err
}

// parseOriginPattern parses scheme://*.domain[:port]: the wildcard is the whole first label and
// the only one, and domain has at least two labels (https://*.example is every site of a
// top-level domain, which nobody means).
func parseOriginPattern(s string) (originPattern, error) {
	scheme, rest, ok := strings.Cut(s, "://*.")
	if !ok || strings.Contains(rest, "*") {
		return originPattern{}, fmt.Errorf("origin pattern %q may have its wildcard only as the whole first label, e.g. https://*.home.example", s)
	}
	n, err := NormalizeOrigin(scheme + "://" + rest)
	if err != nil {
		return originPattern{}, fmt.Errorf("origin pattern %q: %w", s, err)
	}
	sch, hostport, _ := strings.Cut(n, "://")
	host, port := splitHostPort(hostport)
	if !DomainName(host) || !strings.Contains(host, ".") {
		return originPattern{}, fmt.Errorf("origin pattern %q: after *. give a domain name of at least two labels, such as home.example", s)
	}
	return originPattern{scheme: sch, suffix: "." + host, port: port}, nil
}

// Match reports whether origin, normalized by NormalizeOrigin, is one of o's.
func (o Origins) Match(origin string) bool {
	if slices.Contains(o.exact, origin) {
		return true
	}
	if len(o.patterns) == 0 {
		return false
	}
	scheme, hostport, ok := strings.Cut(origin, "://")
	if !ok {
		return false
	}
	host, port := splitHostPort(hostport)
	for _, p := range o.patterns {
		if scheme != p.scheme || port != p.port {
			continue
		}
		label, ok := strings.CutSuffix(host, p.suffix)
		if ok && dnsLabel(label) {
			return true
		}
	}
	return false
}

// Empty reports whether o trusts no other origin.
func (o Origins) Empty() bool { return len(o.exact) == 0 && len(o.patterns) == 0 }

// splitHostPort splits a normalized host[:port] (an IPv6 address in brackets).
func splitHostPort(hostport string) (host, port string) {
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return hostport, ""
		}
		host, rest := hostport[:end+1], hostport[end+1:]
		return host, strings.TrimPrefix(rest, ":")
	}
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		return hostport[:i], hostport[i+1:]
	}
	return hostport, ""
}

// dnsLabel reports whether s is one DNS label of a host name: 1 to 63 lower-case letters,
// digits and hyphens, not starting or ending with a hyphen.
func dnsLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// DomainName reports whether s is a lower-case host name of DNS labels (no IP address, no
// trailing dot, no empty label), at most 253 bytes long.
func DomainName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	allDigits := true
	for label := range strings.SplitSeq(s, ".") {
		if !dnsLabel(label) {
			return false
		}
		allDigits = allDigits && strings.Trim(label, "0123456789") == ""
	}
	return !allDigits // 127.0.0.1 is an address, not a name
}

// CheckCookieDomain returns an error unless domain can be a session's cookie_domain: a host
// name of at least two labels (a cookie for a whole top-level domain is refused by browsers
// anyway), lower case, without a leading dot.
func CheckCookieDomain(domain string) error {
	if !DomainName(domain) || !strings.Contains(domain, ".") {
		return fmt.Errorf("cookie_domain %q must be a domain name of at least two labels, in lower case and without a leading dot, such as home.example", domain)
	}
	return nil
}

// InDomain reports whether host (a host name, without port) is domain or one of its
// subdomains: the hosts a cookie with Domain=domain is sent to.
func InDomain(host, domain string) bool {
	host = strings.ToLower(host)
	return host == domain || (strings.HasSuffix(host, "."+domain) && DomainName(host))
}
