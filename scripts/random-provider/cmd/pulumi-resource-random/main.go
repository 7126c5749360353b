// Command pulumi-resource-random is the resource plugin the Pulumi engine starts.
package main

import (
	"context"
	_ "embed"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"local/pulumi-random-bridge/providerinfo"
)

// Both written by pulumi-tfgen-random at build time.
var (
	//go:embed schema.json
	schema []byte
	//go:embed bridge-metadata.json
	bridgeMetadata []byte
)

func main() {
	pftfbridge.Main(context.Background(), "random", providerinfo.Provider(bridgeMetadata),
		pftfbridge.ProviderMetadata{PackageSchema: schema, BridgeMetadata: bridgeMetadata})
}
