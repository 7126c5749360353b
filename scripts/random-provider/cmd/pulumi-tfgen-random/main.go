// Command pulumi-tfgen-random writes the Pulumi schema (and the bridge metadata) that the
// plugin embeds.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"local/pulumi-random-bridge/providerinfo"
)

func main() { tfgen.Main("random", providerinfo.Provider(nil)) }
