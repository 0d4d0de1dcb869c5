// Package yaegitest loads the Gatehouse Traefik plugin the way Traefik v3 does: the plugin's
// folder, vendor/ included, copied into a GOPATH laid out as plugins-local/src/<module>, imported
// by github.com/traefik/yaegi v0.16.1 (the interpreter Traefik v3.7 ships) with the standard
// library's symbols only, its configuration decoded by mapstructure with Traefik's options, and
// New called through the interpreter. Every case runs against that interpreted plugin and
// against the same package compiled, so the two cannot drift apart.
//
// It is a module of its own so that neither the plugin's module (whose vendor/ Traefik reads)
// nor Gatehouse's needs the interpreter.
package yaegitest

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/mitchellh/mapstructure"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
	"gopkg.in/yaml.v3"

	gatehouse "github.com/gatehouse-dev/gatehouse/traefik"
)

// pluginModule is the plugin's module path, which .traefik.yml's import names.
const pluginModule = "github.com/gatehouse-dev/gatehouse/traefik"

// passthroughModule is a plugin that only calls next: the baseline of the benchmarks.
const passthroughModule = "example.com/passthrough"

// manifest is the part of .traefik.yml that Traefik reads.
type manifest struct {
	DisplayName string         `yaml:"displayName"`
	Type        string         `yaml:"type"`
	Import      string         `yaml:"import"`
	BasePkg     string         `yaml:"basePkg"`
	Summary     string         `yaml:"summary"`
	TestData    map[string]any `yaml:"testData"`
}

func readManifest(t testing.TB) manifest {
	t.Helper()
	data, err := os.ReadFile("../.traefik.yml")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf(".traefik.yml: %v", err)
	}
	return m
}

// plugin is one plugin package loaded in an interpreter, as Traefik's middleware builder holds it.
type plugin struct {
	fnNew, fnCreateConfig reflect.Value
}

// interpreted is the interpreter with both plugins, loaded once per test binary.
var interpreted struct {
	once        sync.Once
	err         error
	gatehouse   plugin
	passthrough plugin
}

// loadInterpreted lays out the GOPATH and imports the plugins as Traefik does.
func loadInterpreted(t testing.TB) (gh, pass plugin) {
	t.Helper()
	interpreted.once.Do(func() {
		interpreted.err = func() error {
			goPath, err := os.MkdirTemp("", "gatehouse-yaegi-")
			if err != nil {
				return err
			}
			// The GOPATH lives as long as the test binary: the interpreter reads files lazily.
			src := filepath.Join(goPath, "src")
			if err := copyPlugin("..", filepath.Join(src, filepath.FromSlash(pluginModule))); err != nil {
				return err
			}
			if err := copyPlugin("testdata/passthrough", filepath.Join(src, filepath.FromSlash(passthroughModule))); err != nil {
				return err
			}
			m := readManifest(t)
			if m.Import != pluginModule || m.Type != "middleware" {
				return fmt.Errorf(".traefik.yml: import %q, type %q; want %q, middleware", m.Import, m.Type, pluginModule)
			}
			// What Traefik's initInterp does (pkg/plugins): no unsafe, no syscall, no build tags.
			i := interp.New(interp.Options{GoPath: goPath, Env: os.Environ()})
			if err := i.Use(stdlib.Symbols); err != nil {
				return err
			}
			if interpreted.gatehouse, err = importPlugin(i, m.Import, m.BasePkg); err != nil {
				return err
			}
			interpreted.passthrough, err = importPlugin(i, passthroughModule, "passthrough")
			return err
		}()
	})
	if interpreted.err != nil {
		t.Fatalf("loading the plugin in Yaegi: %v", interpreted.err)
	}
	return interpreted.gatehouse, interpreted.passthrough
}

// importPlugin imports a plugin and looks up its entry points, as Traefik's
// newMiddlewareBuilder does (basePkg defaults to the last element of the import path).
func importPlugin(i *interp.Interpreter, importPath, basePkg string) (plugin, error) {
	if _, err := i.Eval(fmt.Sprintf(`import %q`, importPath)); err != nil {
		return plugin{}, fmt.Errorf("import %s: %w", importPath, err)
	}
	if basePkg == "" {
		basePkg = strings.ReplaceAll(filepath.Base(importPath), "-", "_")
	}
	fnNew, err := i.Eval(basePkg + ".New")
	if err != nil {
		return plugin{}, err
	}
	fnCreateConfig, err := i.Eval(basePkg + ".CreateConfig")
	if err != nil {
		return plugin{}, err
	}
	return plugin{fnNew: fnNew, fnCreateConfig: fnCreateConfig}, nil
}

// copyPlugin copies a plugin folder (its go.mod, sources and vendor/, not this test module).
func copyPlugin(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			if rel == "yaegitest" || d.Name() == ".git" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
}

// decode fills cfg from options as Traefik's createConfig does.
func decode(options map[string]any, cfg any) error {
	if len(options) == 0 {
		return nil
	}
	d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.StringToSliceHookFunc(","),
		WeaklyTypedInput: true,
		Result:           cfg,
	})
	if err != nil {
		return err
	}
	return d.Decode(options)
}

// newHandler is Traefik's middlewareBuilder.newHandler on an interpreted plugin.
func (p plugin) newHandler(options map[string]any, next http.Handler, name string) (http.Handler, error) {
	cfg := p.fnCreateConfig.Call(nil)[0]
	if err := decode(options, cfg.Interface()); err != nil {
		return nil, fmt.Errorf("failed to decode configuration: %w", err)
	}
	args := []reflect.Value{reflect.ValueOf(context.Background()), reflect.ValueOf(next), cfg, reflect.ValueOf(name)}
	results := p.fnNew.Call(args)
	if len(results) > 1 && results[1].Interface() != nil {
		err, ok := results[1].Interface().(error)
		if !ok {
			return nil, fmt.Errorf("invalid error type: %T", results[1].Interface())
		}
		return nil, err
	}
	h, ok := results[0].Interface().(http.Handler)
	if !ok {
		return nil, fmt.Errorf("invalid handler type: %T", results[0].Interface())
	}
	return h, nil
}

// compiledHandler is the same, with the plugin package compiled into the test.
func compiledHandler(options map[string]any, next http.Handler, name string) (http.Handler, error) {
	cfg := gatehouse.CreateConfig()
	if err := decode(options, cfg); err != nil {
		return nil, fmt.Errorf("failed to decode configuration: %w", err)
	}
	return gatehouse.New(context.Background(), next, cfg, name)
}

// mode is one way of running the plugin.
type mode struct {
	name string
	new  func(options map[string]any, next http.Handler, name string) (http.Handler, error)
}

// modes returns the interpreted plugin and the compiled one.
func modes(t testing.TB) []mode {
	gh, _ := loadInterpreted(t)
	return []mode{{"yaegi", gh.newHandler}, {"compiled", compiledHandler}}
}
