// Package image is a native `docker:index/image:Image` for the bridged docker plugin: pulumi-docker
// v4/v5 build images with a resource of their own (not a Terraform one), which the program uses
// (components/docker/images.py). Names and types follow the pulumi_docker 5.2.0 SDK; the
// behaviour follows pulumi-docker's provider as docs/engine-spike.md describes it.
package image

import (
	"encoding/json"
	"fmt"
)

// Token is the resource's type token in the SDK.
const Token = "docker:index/image:Image"

func str() map[string]any { return map[string]any{"type": "string"} }

func ref(tok string) map[string]any { return map[string]any{"$ref": "#/types/" + tok} }

func strList() map[string]any {
	return map[string]any{"type": "array", "items": str()}
}

// resourceSpec declares Image as the SDK sees it: the inputs of ImageArgs, the outputs of Image.
func resourceSpec() map[string]any {
	return map[string]any{
		"description": "Builds a Docker image from a local build context on the provider's Docker engine.",
		"type":        "object",
		"properties": map[string]any{
			"baseImageName":  str(),
			"context":        str(),
			"dockerfile":     str(),
			"imageName":      str(),
			"platform":       str(),
			"registryServer": str(),
			"repoDigest":     str(),
		},
		"required": []string{
			"dockerfile", "context", "baseImageName", "registryServer", "imageName", "repoDigest",
		},
		"inputProperties": map[string]any{
			"build":          ref("docker:index/dockerBuild:DockerBuild"),
			"buildOnPreview": map[string]any{"type": "boolean", "default": false},
			"imageName":      str(),
			"registry":       ref("docker:index/registry:Registry"),
			"skipPush":       map[string]any{"type": "boolean", "default": false},
		},
		"requiredInputs": []string{"imageName"},
		// The SDKs' Image moved from the `image` module to `index` in v4.
		"aliases": []any{map[string]any{"type": "docker:image:Image"}},
	}
}

// typeSpecs are the object and enum types only Image uses.
func typeSpecs() map[string]any {
	return map[string]any{
		"docker:index/dockerBuild:DockerBuild": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"addHosts":       strList(),
				"args":           map[string]any{"type": "object", "additionalProperties": str()},
				"builderVersion": ref("docker:index/builderVersion:BuilderVersion"),
				"cacheFrom":      ref("docker:index/cacheFrom:CacheFrom"),
				"context":        str(),
				"dockerfile":     str(),
				"network":        str(),
				"platform":       str(),
				"target":         str(),
			},
		},
		"docker:index/cacheFrom:CacheFrom": map[string]any{
			"type":       "object",
			"properties": map[string]any{"images": strList()},
		},
		"docker:index/registry:Registry": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"password": map[string]any{"type": "string", "secret": true},
				"server":   str(),
				"username": str(),
			},
		},
		"docker:index/builderVersion:BuilderVersion": map[string]any{
			"type": "string",
			"enum": []any{
				map[string]any{"name": "BuilderV1", "value": "BuilderV1"},
				map[string]any{"name": "BuilderBuildKit", "value": "BuilderBuildKit"},
			},
		},
	}
}

// MergeSchema adds Image and its types to the bridged provider's schema (tfgen's output).
func MergeSchema(bridged []byte) ([]byte, error) {
	var schema map[string]any
	if err := json.Unmarshal(bridged, &schema); err != nil {
		return nil, fmt.Errorf("the bridged schema is not JSON: %w", err)
	}
	resources, _ := schema["resources"].(map[string]any)
	types, _ := schema["types"].(map[string]any)
	if resources == nil || types == nil {
		return nil, fmt.Errorf("the bridged schema has no resources or types")
	}
	if _, taken := resources[Token]; taken {
		return nil, fmt.Errorf("the bridged schema already has %s", Token)
	}
	resources[Token] = resourceSpec()
	for tok, spec := range typeSpecs() {
		if _, taken := types[tok]; taken {
			return nil, fmt.Errorf("the bridged schema already has the type %s", tok)
		}
		types[tok] = spec
	}
	return json.Marshal(schema)
}
