package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	buildtypes "github.com/docker/docker/api/types/build"
	"github.com/docker/docker/pkg/jsonmessage"
	controlapi "github.com/moby/buildkit/api/services/control"
	"github.com/moby/buildkit/identity"
	"github.com/moby/buildkit/session"
	archive "github.com/moby/go-archive"
	"google.golang.org/protobuf/proto"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/terraform-providers/terraform-provider-docker/bridgeshim"
)

const (
	builderV1       = "BuilderV1"
	builderBuildKit = "BuilderBuildKit"
	// outputTail is how many lines of the build's output a failed build reports.
	outputTail = 60
)

// build runs the build on the configured engine and returns Image's outputs.
func (p *Provider) build(ctx context.Context, urn resource.URN, s spec) (map[string]any, error) {
	if !s.skipPush {
		// The project builds on the engine that runs the containers and has no registry.
		return nil, fmt.Errorf("image %s: skipPush is false, but this docker plugin does not push to "+
			"registries: set skipPush to true", s.imageName)
	}
	rel, inside, err := relativeDockerfile(s.context, s.dockerfile)
	if err != nil {
		return nil, err
	}
	if !inside {
		return nil, fmt.Errorf("image %s: build.dockerfile %s is outside build.context %s: this docker "+
			"plugin sends only the context to the engine", s.imageName, s.dockerfile, s.context)
	}
	patterns, err := ignorePatterns(s.context, s.dockerfile)
	if err != nil {
		return nil, err
	}
	if len(patterns) > 0 {
		// As the docker CLI does: the Dockerfile and .dockerignore always reach the builder.
		patterns = append(patterns, "!"+rel, "!.dockerignore")
	}
	tar, err := archive.TarWithOptions(s.context, &archive.TarOptions{
		ExcludePatterns: patterns,
		ChownOpts:       &archive.ChownOpts{UID: 0, GID: 0},
	})
	if err != nil {
		return nil, fmt.Errorf("image %s: cannot pack the build context %s: %w", s.imageName, s.context, err)
	}
	defer tar.Close()

	docker, err := bridgeshim.NewClient(ctx, p.engine)
	if err != nil {
		return nil, fmt.Errorf("image %s: cannot reach the Docker engine %s: %w", s.imageName, p.engine.Host, err)
	}
	opts := buildtypes.ImageBuildOptions{
		Tags:        []string{s.imageName},
		Dockerfile:  rel,
		BuildArgs:   s.args,
		Platform:    s.platform,
		Target:      s.target,
		NetworkMode: s.network,
		ExtraHosts:  s.addHosts,
		CacheFrom:   s.cacheFrom,
		Remove:      true,
		Version:     buildtypes.BuilderV1,
	}
	if s.builder == builderBuildKit {
		// BuildKit over the engine's API (Docker 20.10 has it): the context goes up as the
		// request's tar, as with the classic builder, and the engine wants a session for the build
		// to call back on (https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Image/operation/ImageBuild).
		opts.Version = buildtypes.BuilderBuildKit
		sess, err := session.NewSession(ctx, identity.NewID())
		if err != nil {
			return nil, err
		}
		dial := func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
			return docker.DialHijack(ctx, "/session", proto, meta)
		}
		go func() { _ = sess.Run(ctx, dial) }()
		defer sess.Close()
		opts.SessionID = sess.ID()
	}
	p.status(ctx, urn, "Building "+s.imageName)
	resp, err := docker.ImageBuild(ctx, tar, opts)
	if err != nil {
		return nil, fmt.Errorf("image %s: the engine refused the build: %w", s.imageName, err)
	}
	defer resp.Body.Close()
	if err := p.follow(ctx, urn, s.imageName, resp.Body); err != nil {
		return nil, err
	}
	inspect, err := docker.ImageInspect(ctx, s.imageName)
	if err != nil {
		return nil, fmt.Errorf("image %s: built, but the engine does not find it: %w", s.imageName, err)
	}
	return map[string]any{
		"imageName":      s.imageName,
		"baseImageName":  s.imageName,
		"dockerfile":     rel,
		"context":        s.context,
		"platform":       s.platform,
		"registryServer": s.registry,
		// Not pushed: the local image id, as pulumi-docker gives for skipPush.
		"repoDigest": inspect.ID,
	}, nil
}

// follow reads the build's message stream, shows progress, and turns a failed build into an
// error that carries the last lines of the build's output (BuildKit sends its output as
// protobuf status messages inside the stream, the classic builder as text).
func (p *Provider) follow(ctx context.Context, urn resource.URN, name string, body io.Reader) error {
	var lines []string
	keep := func(text string) {
		for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			lines = append(lines, line)
		}
		if len(lines) > outputTail {
			lines = lines[len(lines)-outputTail:]
		}
	}
	seen := map[string]bool{}
	decoder := json.NewDecoder(body)
	for {
		var msg jsonmessage.JSONMessage
		if err := decoder.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("image %s: cannot read the build's output: %w", name, err)
		}
		if msg.Error != nil || msg.ErrorMessage != "" {
			text := msg.ErrorMessage
			if msg.Error != nil {
				text = msg.Error.Message
			}
			return fmt.Errorf("image %s: the build failed: %s\n%s", name, text, strings.Join(lines, "\n"))
		}
		if msg.Stream != "" {
			keep(msg.Stream)
		}
		if msg.ID == "moby.buildkit.trace" && msg.Aux != nil {
			var raw []byte
			var status controlapi.StatusResponse
			if json.Unmarshal(*msg.Aux, &raw) != nil || proto.Unmarshal(raw, &status) != nil {
				continue
			}
			for _, v := range status.Vertexes {
				if v.Started != nil && !seen[v.Digest] {
					seen[v.Digest] = true
					keep(v.Name)
					p.status(ctx, urn, v.Name)
				}
				if v.Error != "" {
					keep(v.Name + ": " + v.Error)
				}
			}
			for _, l := range status.Logs {
				keep(string(l.Msg))
			}
		}
	}
	return nil
}
