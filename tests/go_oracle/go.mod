module github.com/ecr-pull-through-cache/tests/go_oracle

go 1.21

require (
	github.com/distribution/reference v0.6.0
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/opencontainers/go-digest v1.0.0 // indirect
