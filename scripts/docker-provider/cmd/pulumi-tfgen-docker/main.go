package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"local/pulumi-docker-bridge/providerinfo"
)

func main() { tfgen.Main("docker", providerinfo.Version, providerinfo.Provider()) }
