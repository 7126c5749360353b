package image

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	pbempty "google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	rpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/terraform-providers/terraform-provider-docker/bridgeshim"
)

// inputsKey holds the inputs in the state (a secret: they may hold registry credentials), so
// Diff compares inputs with inputs, as pulumi-docker does.
const inputsKey = "__inputs"

// Provider answers the Image resource's calls; the plugin's server routes them here.
type Provider struct {
	host   *provider.HostClient
	engine bridgeshim.ClientConfig
}

// New returns the Image provider; host is the engine's logging channel (nil in tests).
func New(host *provider.HostClient) *Provider { return &Provider{host: host} }

// Configure keeps what the provider configuration says about the Docker engine: Image builds on
// the engine the bridged resources use (`host`, else DOCKER_HOST, else the local socket).
func (p *Provider) Configure(req *rpc.ConfigureRequest) error {
	vars := req.GetVariables()
	get := func(key string) string {
		if v, ok := vars["docker:config:"+key]; ok {
			return v
		}
		if args := req.GetArgs(); args != nil {
			if f, ok := args.GetFields()[key]; ok {
				return f.GetStringValue()
			}
		}
		return ""
	}
	c := bridgeshim.ClientConfig{
		Host: get("host"), Ca: get("caMaterial"), Cert: get("certMaterial"),
		Key: get("keyMaterial"), CertPath: get("certPath"),
	}
	if c.Host == "" {
		c.Host = os.Getenv("DOCKER_HOST")
	}
	if c.Host == "" {
		c.Host = "unix:///var/run/docker.sock"
	}
	if raw := get("sshOpts"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &c.SSHOpts); err != nil {
			return fmt.Errorf("docker:config:sshOpts is not a JSON list of strings: %q", raw)
		}
	}
	p.engine = c
	return nil
}

func unmarshal(s *structpb.Struct, keepSecrets bool) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		KeepUnknowns: true, SkipNulls: true, KeepSecrets: keepSecrets,
	})
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{
		KeepUnknowns: true, SkipNulls: true, KeepSecrets: true,
	})
}

func (p *Provider) log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) {
	if p.host != nil {
		_ = p.host.Log(ctx, sev, urn, msg)
	}
}

func (p *Provider) status(ctx context.Context, urn resource.URN, msg string) {
	if p.host != nil {
		_ = p.host.LogStatus(ctx, diag.Info, urn, msg)
	}
}

// plain is a value with any secret wrapper taken off (the state keeps the wrapped one).
func plain(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

func known(v resource.PropertyValue) bool { return !v.ContainsUnknowns() }

// Check fills in pulumi-docker's defaults (context ".", dockerfile <context>/Dockerfile, the
// BuildKit builder, platform linux/<arch>) and adds build.contextDigest, the digest of the
// Dockerfile and of every file the build context sends: a changed file changes the inputs, and
// so Diff reports an update (a rebuild) even under an unchanged imageName.
func (p *Provider) Check(ctx context.Context, req *rpc.CheckRequest) (*rpc.CheckResponse, error) {
	urn := resource.URN(req.GetUrn())
	inputs, err := unmarshal(req.GetNews(), true)
	if err != nil {
		return nil, err
	}
	if _, ok := inputs["buildOnPreview"]; !ok {
		inputs["buildOnPreview"] = resource.NewBoolProperty(false)
	}
	var failures []*rpc.CheckFailure
	fail := func(property, reason string) {
		failures = append(failures, &rpc.CheckFailure{Property: property, Reason: reason})
	}
	if name := plain(inputs["imageName"]); name.IsNull() {
		fail("imageName", "imageName is required: the tag of the image to build, e.g. repository:tag")
	} else if known(name) && (!name.IsString() || name.StringValue() == "") {
		fail("imageName", fmt.Sprintf("imageName must be a non-empty string, not %v", name))
	}
	buildValue := plain(inputs["build"])
	if buildValue.IsNull() {
		buildValue = resource.NewObjectProperty(resource.PropertyMap{})
	}
	if !buildValue.IsObject() {
		if known(buildValue) {
			fail("build", "build must be an object (DockerBuildArgs)")
		}
		return checkResponse(inputs, failures)
	}
	build := buildValue.ObjectValue()
	if c := plain(build["context"]); c.IsNull() {
		build["context"] = resource.NewStringProperty(".")
	}
	contextDir := plain(build["context"])
	if d := plain(build["dockerfile"]); d.IsNull() && known(contextDir) {
		build["dockerfile"] = resource.NewStringProperty(filepath.Join(contextDir.StringValue(), "Dockerfile"))
	}
	if v := plain(build["builderVersion"]); v.IsNull() {
		build["builderVersion"] = resource.NewStringProperty(builderBuildKit)
	} else if known(v) && v.StringValue() != builderBuildKit && v.StringValue() != builderV1 {
		fail("build.builderVersion", fmt.Sprintf("build.builderVersion is %q: allowed are %q and %q",
			v.StringValue(), builderV1, builderBuildKit))
	}
	if plain(build["platform"]).IsNull() {
		hostPlatform := "linux/" + runtime.GOARCH
		build["platform"] = resource.NewStringProperty(hostPlatform)
		p.log(ctx, diag.Info, urn, "Building your image for "+hostPlatform+
			" (the default): set build.platform to choose another.")
	}
	dockerfile := plain(build["dockerfile"])
	if known(contextDir) && known(dockerfile) {
		path, problem := locateDockerfile(contextDir.StringValue(), dockerfile.StringValue())
		if problem != "" {
			fail("build.dockerfile", problem)
		} else {
			digest, err := contextDigest(contextDir.StringValue(), path)
			if err != nil {
				fail("build.context", err.Error())
			} else {
				build["contextDigest"] = resource.NewStringProperty(digest)
			}
		}
	}
	inputs["build"] = resource.NewObjectProperty(build)
	return checkResponse(inputs, failures)
}

func checkResponse(inputs resource.PropertyMap, failures []*rpc.CheckFailure) (*rpc.CheckResponse, error) {
	s, err := marshal(inputs)
	if err != nil {
		return nil, err
	}
	return &rpc.CheckResponse{Inputs: s, Failures: failures}, nil
}

// locateDockerfile finds the Dockerfile as pulumi-docker does: the path as given (relative to
// the program's directory), and if that does not exist, tells whether it is under the context.
func locateDockerfile(contextDir, dockerfile string) (string, string) {
	if _, err := os.Stat(dockerfile); err == nil {
		return dockerfile, ""
	} else if filepath.IsAbs(dockerfile) {
		return "", fmt.Sprintf("build.dockerfile %q does not exist: %v", dockerfile, err)
	}
	under := filepath.Join(contextDir, dockerfile)
	if _, err := os.Stat(under); err == nil {
		return "", fmt.Sprintf("build.dockerfile %q does not exist (paths are relative to the "+
			"program's directory): try %q", dockerfile, under)
	}
	return "", fmt.Sprintf("build.dockerfile %q does not exist", dockerfile)
}

// Diff compares the new inputs with the inputs kept in the state. As in pulumi-docker every
// change is an update, never a replacement: Update builds the image again (a new imageName is a
// new tag; the old image stays, since Image's delete leaves images on the engine). Only a
// registry's server counts, not its credentials.
func (p *Provider) Diff(_ context.Context, req *rpc.DiffRequest) (*rpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOlds(), false)
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), false)
	if err != nil {
		return nil, err
	}
	oldInputs := resource.PropertyMap{}
	if v, ok := olds[inputsKey]; ok && v.IsObject() {
		oldInputs = v.ObjectValue()
	}
	d := oldInputs.Diff(news)
	detailed := map[string]*rpc.PropertyDiff{}
	if d != nil {
		for k := range d.Adds {
			detailed[string(k)] = &rpc.PropertyDiff{Kind: rpc.PropertyDiff_ADD}
		}
		for k := range d.Deletes {
			detailed[string(k)] = &rpc.PropertyDiff{Kind: rpc.PropertyDiff_DELETE}
		}
		for k, vd := range d.Updates {
			if k == "registry" && vd.Object != nil {
				if _, server := vd.Object.Updates["server"]; !server {
					continue
				}
			}
			detailed[string(k)] = &rpc.PropertyDiff{Kind: rpc.PropertyDiff_UPDATE}
		}
	}
	if len(detailed) == 0 {
		return &rpc.DiffResponse{Changes: rpc.DiffResponse_DIFF_NONE}, nil
	}
	changed := make([]string, 0, len(detailed))
	for k := range detailed {
		changed = append(changed, k)
	}
	return &rpc.DiffResponse{
		Changes: rpc.DiffResponse_DIFF_SOME, Diffs: changed,
		DetailedDiff: detailed, HasDetailedDiff: true,
	}, nil
}

// Create builds the image (in a preview only with buildOnPreview, as pulumi-docker does;
// otherwise the outputs stay unknown) and keeps the inputs in the state.
func (p *Provider) Create(ctx context.Context, req *rpc.CreateRequest) (*rpc.CreateResponse, error) {
	id, state, err := p.apply(ctx, resource.URN(req.GetUrn()), req.GetProperties(), req.GetPreview())
	if err != nil {
		return nil, err
	}
	return &rpc.CreateResponse{Id: id, Properties: state}, nil
}

// Update builds again with the new inputs.
func (p *Provider) Update(ctx context.Context, req *rpc.UpdateRequest) (*rpc.UpdateResponse, error) {
	_, state, err := p.apply(ctx, resource.URN(req.GetUrn()), req.GetNews(), req.GetPreview())
	if err != nil {
		return nil, err
	}
	return &rpc.UpdateResponse{Properties: state}, nil
}

func (p *Provider) apply(
	ctx context.Context, urn resource.URN, props *structpb.Struct, preview bool,
) (string, *structpb.Struct, error) {
	inputs, err := unmarshal(props, true)
	if err != nil {
		return "", nil, err
	}
	if onPreview := plain(inputs["buildOnPreview"]); preview && !(onPreview.IsBool() && onPreview.BoolValue()) {
		return "", props, nil
	}
	if preview && inputs.ContainsUnknowns() {
		p.log(ctx, diag.Warning, urn, "buildOnPreview: the image's inputs are not all known yet; not building")
		return "", props, nil
	}
	spec, err := specFrom(inputs)
	if err != nil {
		return "", nil, err
	}
	outputs, err := p.build(ctx, urn, spec)
	if err != nil {
		return "", nil, err
	}
	state := resource.NewPropertyMapFromMap(outputs)
	state[inputsKey] = resource.MakeSecret(resource.NewObjectProperty(inputs))
	s, err := marshal(state)
	if err != nil {
		return "", nil, err
	}
	return spec.imageName, s, nil
}

// Read returns the state as it is: like pulumi-docker, a refresh does not look at the engine.
func (p *Provider) Read(_ context.Context, req *rpc.ReadRequest) (*rpc.ReadResponse, error) {
	return &rpc.ReadResponse{Id: req.GetId(), Inputs: req.GetInputs(), Properties: req.GetProperties()}, nil
}

// Delete leaves the image on the engine, as pulumi-docker does: containers of another stack or
// a later build may use the same tag.
func (p *Provider) Delete(context.Context, *rpc.DeleteRequest) (*pbempty.Empty, error) {
	return &pbempty.Empty{}, nil
}

// spec is what a build needs, read from checked inputs.
type spec struct {
	imageName  string
	skipPush   bool
	registry   string
	context    string
	dockerfile string
	args       map[string]*string
	builder    string
	platform   string
	target     string
	network    string
	addHosts   []string
	cacheFrom  []string
}

func specFrom(inputs resource.PropertyMap) (spec, error) {
	s := spec{imageName: plain(inputs["imageName"]).StringValue()}
	if v := plain(inputs["skipPush"]); v.IsBool() {
		s.skipPush = v.BoolValue()
	}
	if r := plain(inputs["registry"]); r.IsObject() {
		if v := plain(r.ObjectValue()["server"]); v.IsString() {
			s.registry = v.StringValue()
		}
	}
	b := plain(inputs["build"])
	if !b.IsObject() {
		return s, fmt.Errorf("build is missing after Check")
	}
	build := b.ObjectValue()
	text := func(key string) string {
		if v := plain(build[resource.PropertyKey(key)]); v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	list := func(v resource.PropertyValue) []string {
		var out []string
		if v = plain(v); v.IsArray() {
			for _, e := range v.ArrayValue() {
				if e = plain(e); e.IsString() {
					out = append(out, e.StringValue())
				}
			}
		}
		return out
	}
	s.context, s.dockerfile, s.builder = text("context"), text("dockerfile"), text("builderVersion")
	s.platform, s.target, s.network = text("platform"), text("target"), text("network")
	s.addHosts = list(build["addHosts"])
	if c := plain(build["cacheFrom"]); c.IsObject() {
		s.cacheFrom = list(c.ObjectValue()["images"])
	}
	if a := plain(build["args"]); a.IsObject() {
		s.args = map[string]*string{}
		for k, v := range a.ObjectValue() {
			if v = plain(v); v.IsString() {
				value := v.StringValue()
				s.args[string(k)] = &value
			}
		}
	}
	if strings.TrimSpace(s.imageName) == "" {
		return s, fmt.Errorf("imageName is empty")
	}
	return s, nil
}
