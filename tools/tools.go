//go:build tools

// Package tools pins the Pulumi CLI the end-to-end tests run: `make tools` builds it from the Go module
// proxy with `GOBIN=.tools/bin go install github.com/pulumi/pulumi/pkg/v3/cmd/pulumi`, as Pulumi's own
// provider repositories pin their build tools.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
