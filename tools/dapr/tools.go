//go:build tools

// Package tools pins the Dapr runtime commands this module builds; it is never compiled.
package tools

import (
	_ "github.com/dapr/dapr/cmd/daprd"
	_ "github.com/dapr/dapr/cmd/placement"
	_ "github.com/dapr/dapr/cmd/scheduler"
	_ "github.com/dapr/components-contrib/bindings/http"
	_ "github.com/dapr/components-contrib/bindings/localstorage"
	_ "github.com/dapr/components-contrib/nameresolution/mdns"
	_ "github.com/dapr/components-contrib/pubsub/in-memory"
	_ "github.com/dapr/components-contrib/pubsub/redis"
	_ "github.com/dapr/components-contrib/secretstores/local/env"
	_ "github.com/dapr/components-contrib/secretstores/local/file"
	_ "github.com/dapr/components-contrib/state/in-memory"
	_ "github.com/dapr/components-contrib/state/redis"
)
