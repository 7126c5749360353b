// Package providerinfo maps the Terraform docker provider onto the Pulumi tokens and property
// names the pulumi-docker SDKs use.
package providerinfo

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"

	"github.com/terraform-providers/terraform-provider-docker/bridgeshim"
)

// Version is the plugin version the Python SDK asks for, set at build time (-X).
var Version = "0.0.0-dev"

// Provider is the bridged provider: the SDKv2 resources of the Terraform provider under the
// tokens of pulumi-docker's schema (docs/engine-spike.md compares the two).
func Provider() tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:       shimv2.NewProvider(bridgeshim.New(Version)),
		Name:    "docker",
		Version: Version,
		Config: map[string]*tfbridge.SchemaInfo{
			// The SDK's provider argument is registryAuth, a list.
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		// Only the names the automatic mapping would get wrong: docker_image is RemoteImage in
		// the SDK (its Image is a native, non-bridged resource), docker_config is
		// ServiceConfig, and two list fields keep singular names.
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_image": {
				Tok:    "docker:index/remoteImage:RemoteImage",
				Fields: map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}},
			},
			"docker_config": {Tok: "docker:index/serviceConfig:ServiceConfig"},
			"docker_container": {
				// A container's name is fixed by the program, and two cannot share one.
				DeleteBeforeReplace: true,
				Fields: map[string]*tfbridge.SchemaInfo{
					"command":           {Name: "command"},
					"networks_advanced": {Name: "networksAdvanced"},
				},
			},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_image": {Tok: "docker:index/getRemoteImage:getRemoteImage"},
		},
	}
	info.MustComputeTokens(tokens.SingleModule("docker_", "index", tokens.MakeStandard("docker")))
	// As in the SDK: a `name` left out is made from the resource's name plus a random suffix.
	info.SetAutonaming(255, "-")
	return info
}
