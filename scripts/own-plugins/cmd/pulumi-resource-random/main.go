// Command pulumi-resource-random is the project's own resource plugin for the one resource of
// pulumi-random the program uses, `random:index/randomPassword:RandomPassword`, written on the
// Pulumi SDK's provider gRPC interface. pulumi-random's own provider module is refused by the
// Go module proxy; the bridged terraform-provider-random (scripts/build-random-provider.sh)
// builds, but takes minutes where this takes seconds. docs/engine-own-random.md says what it
// does and how it compares with pulumi-random 4.21.4.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Version is what GetPluginInfo answers: the pulumi-random release whose Python SDK asks for
// this plugin (set by scripts/build-own-plugins.sh from requirements.txt).
var Version = "4.21.4"

func main() {
	err := provider.Main("random", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return newRandomProvider(), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
