// Package passthrough is a Traefik middleware plugin that only calls the next handler: the
// baseline against which the benchmarks measure what Gatehouse's plugin costs.
package passthrough

import (
	"context"
	"net/http"
)

// Config has no options.
type Config struct{}

// CreateConfig returns the empty configuration.
func CreateConfig() *Config { return &Config{} }

type passthrough struct{ next http.Handler }

// New returns the handler.
func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	return &passthrough{next: next}, nil
}

func (p *passthrough) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.next.ServeHTTP(w, r) }
