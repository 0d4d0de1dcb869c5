module github.com/gatehouse-dev/gatehouse/traefik

go 1.26.0

require github.com/gatehouse-dev/gatehouse v0.0.0

replace github.com/gatehouse-dev/gatehouse => ../
