// Package providerinfo maps the Terraform random provider onto the Pulumi tokens the
// pulumi-random SDKs use: random_password is random:index/randomPassword:RandomPassword.
package providerinfo

import (
	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"

	"github.com/terraform-providers/terraform-provider-random/bridgeshim"
)

// Version is the plugin version the Python SDK asks for, set at build time (-X).
var Version = "0.0.0-dev"

// Provider describes the bridged provider. bridgeMetadata is what tfgen wrote beside the
// schema (the plugin-framework bridge refuses to start without it); tfgen itself passes nil.
func Provider(bridgeMetadata []byte) tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pftfbridge.ShimProvider(bridgeshim.New()),
		Name:         "random",
		Version:      Version,
		MetadataInfo: tfbridge.NewProviderMetadata(bridgeMetadata),
	}
	// The SDK's class names keep the "Random" the token prefix loses: random_password is
	// RandomPassword (module index), not Password.
	standard := tokens.MakeStandard("random")
	info.MustComputeTokens(tokens.SingleModule("random_", "index",
		func(module, name string) (string, error) { return standard(module, "Random"+name) }))
	return info
}
