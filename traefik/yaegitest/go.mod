module github.com/gatehouse-dev/gatehouse/traefik/yaegitest

go 1.26.0

require (
	github.com/gatehouse-dev/gatehouse v0.0.0
	github.com/gatehouse-dev/gatehouse/traefik v0.0.0
	github.com/mitchellh/mapstructure v1.5.0
	github.com/traefik/yaegi v0.16.1
	gopkg.in/yaml.v3 v3.0.1
)

replace (
	github.com/gatehouse-dev/gatehouse => ../..
	github.com/gatehouse-dev/gatehouse/traefik => ..
)
