// Package bridgeshim makes the provider constructor, which lives in an internal package,
// importable from another module (Go forbids importing internal/ across modules).
package bridgeshim

import (
	"context"

	"github.com/docker/docker/client"
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"

	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// New returns the SDKv2 half of the provider (every docker_* resource but compose).
func New(version string) *schema.Provider { return provider.New(version)() }

// ClientConfig is what the provider's configuration says about the Docker engine to talk to.
type ClientConfig struct {
	Host     string
	SSHOpts  []string
	Ca       string
	Cert     string
	Key      string
	CertPath string
}

// NewClient connects to the engine the way the bridged resources do (TLS material, cert path,
// ssh:// through the docker CLI's connection helper, or a plain host), so the native Image
// builds on the same engine that runs the containers.
func NewClient(ctx context.Context, c ClientConfig) (*client.Client, error) {
	pc := &provider.ProviderConfig{DefaultConfig: &provider.Config{
		Host: c.Host, SSHOpts: c.SSHOpts, Ca: c.Ca, Cert: c.Cert, Key: c.Key, CertPath: c.CertPath,
	}}
	return pc.MakeClient(ctx, nil)
}
