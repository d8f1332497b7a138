module github.com/gridedge/gridedge/shared

go 1.26.8

require (
	github.com/expr-lang/expr v1.17.8
	github.com/nats-io/nkeys v0.4.16
	gopkg.in/yaml.v3 v3.0.1
)

require (
	golang.org/x/crypto v0.52.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)
