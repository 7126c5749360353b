package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"local/pulumi-docker-bridge/providerinfo"
)

//go:embed schema.json
var schema []byte

func main() { tfbridge.Main("docker", providerinfo.Version, providerinfo.Provider(), schema) }
