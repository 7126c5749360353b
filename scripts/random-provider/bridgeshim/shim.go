// Package bridgeshim hands the Terraform random provider's constructor to the bridge. The
// constructor lives in an internal/ package; Go allows importing it only from below the
// module's own path, which is why this package's import path sits under it (the build
// script gives it that path with a go.mod of its own and a replace).
package bridgeshim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"

	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// New returns the provider (a terraform-plugin-framework one: every random_* resource).
func New() provider.Provider { return upstream.New() }
