// Command pulumi-resource-command is the project's own resource plugin for the one resource of
// pulumi-command the VM target uses, `command:remote:Command`, written directly on the Pulumi
// SDK's provider gRPC interface. pulumi-command's own provider module (and pulumi-go-provider,
// which it is built on) are refused by the Go module proxy (issue 11), hence this.
// docs/engine-spike-command.md says what it does and where it differs from pulumi-command 1.2.1.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Version is what GetPluginInfo answers: the pulumi-command release whose Python SDK asks for
// this plugin (set by scripts/build-own-plugins.sh from requirements.txt).
var Version = "1.2.1"

func main() {
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return newCommandProvider(host), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
