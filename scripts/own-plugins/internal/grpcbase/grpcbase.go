// Package grpcbase holds what each of the project's own resource plugins answers the same way
// on the Pulumi SDK's provider gRPC interface: plugin info, schema, handshake, the provider's
// own (empty) configuration, call tracing, and the wire format of properties. Each plugin's
// main package adds only its resource's Check (through CheckWith), Diff, Create, Read,
// Update and Delete.
package grpcbase

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Base answers the calls that do not depend on the resource. Embed it in a provider.
type Base struct {
	pulumirpc.UnimplementedResourceProviderServer
	// Name is the package name ("command", "random"); Version what GetPluginInfo answers.
	Name, Version string
	// Schema is the package schema; GetSchema adds the version after its "name" field.
	Schema string
	// TraceEnv names the environment variable that, when it names a file, makes every RPC
	// the engine makes be noted there (how the spikes saw which calls come, with what flags).
	TraceEnv string
	// Types are the resource types the plugin carries out, for CheckType's message.
	Types []string
	// Doc is where the plugin's behaviour is written down, for CheckType's message.
	Doc string

	trace sync.Mutex
}

// Trace notes one RPC when TraceEnv names a file.
func (b *Base) Trace(method string, detail string) {
	path := os.Getenv(b.TraceEnv)
	if b.TraceEnv == "" || path == "" {
		return
	}
	b.trace.Lock()
	defer b.trace.Unlock()
	if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintf(f, "%s %s\n", method, detail)
		f.Close()
	}
}

// CheckType refuses a resource type the plugin does not carry out, naming those it does.
func (b *Base) CheckType(urn string) error {
	t := TypeOf(urn)
	for _, known := range b.Types {
		if t == known {
			return nil
		}
	}
	return status.Errorf(codes.InvalidArgument, "unsupported resource type %s: this %s plugin carries out only %s (%s)",
		t, b.Name, strings.Join(b.Types, ", "), b.Doc)
}

func (b *Base) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	b.Trace("GetPluginInfo", "")
	return &pulumirpc.PluginInfo{Version: b.Version}, nil
}

func (b *Base) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	b.Trace("GetSchema", fmt.Sprintf("version=%d", req.GetVersion()))
	name := fmt.Sprintf(`"name": %q,`, b.Name)
	schema := strings.Replace(b.Schema, name, fmt.Sprintf(`%s "version": %q,`, name, b.Version), 1)
	return &pulumirpc.GetSchemaResponse{Schema: schema}, nil
}

// Handshake: secrets come as secret values (the plugin sees which inputs are secret and
// returns secret outputs itself), and resource references are kept.
func (b *Base) Handshake(_ context.Context, req *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	b.Trace("Handshake", fmt.Sprintf("sendsOldOutputsToCheck=%v", req.GetSendsOldOutputsToCheck()))
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

// The providers have no configuration of their own (pulumi-command's and pulumi-random's
// have none either).
func (b *Base) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	b.Trace("CheckConfig", "")
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (b *Base) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	b.Trace("DiffConfig", "")
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (b *Base) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	b.Trace("Configure", fmt.Sprintf("acceptSecrets=%v acceptResources=%v sendsOldInputs=%v sendsOldInputsToDelete=%v",
		req.GetAcceptSecrets(), req.GetAcceptResources(), req.GetSendsOldInputs(), req.GetSendsOldInputsToDelete()))
	// acceptSecrets: with false the engine would strip the secrets and mark secret only the
	// outputs named like a secret input, so a plugin could not make an output secret itself.
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

// CheckWith answers the engine's Check of a resource of Types: the new inputs, as `check`
// makes them (defaults, normal forms) with its failures (a property and why).
func (b *Base) CheckWith(
	req *pulumirpc.CheckRequest,
	check func(resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure),
) (*pulumirpc.CheckResponse, error) {
	b.Trace("Check", req.GetUrn())
	if err := b.CheckType(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := Props("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	checked, failures := check(news)
	inputs, err := Marshal(checked)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// Wire: secrets come and go as secret values (AcceptSecrets), unknowns are kept (previews),
// and so are resource references (AcceptResources).
var Wire = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, SkipNulls: true}

// Props reads one property struct of a request.
func Props(label string, st *structpb.Struct) (resource.PropertyMap, error) {
	o := Wire
	o.Label = label
	return plugin.UnmarshalProperties(st, o)
}

// Marshal writes properties for a response.
func Marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, Wire)
}

// OldInputs are the inputs a Diff compares with: the old inputs when the engine sends them
// (sendsOldInputs), else the old state.
func OldInputs(req *pulumirpc.DiffRequest) (resource.PropertyMap, error) {
	if req.GetOldInputs() != nil {
		return Props("oldInputs", req.GetOldInputs())
	}
	return Props("olds", req.GetOlds())
}

// TypeOf is the resource type of a URN.
func TypeOf(urn string) string { return string(resource.URN(urn).Type()) }

// Unwrap strips the secret wrappers around a value (secretness is tracked separately).
func Unwrap(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

// Rewrap puts a value back under the secret wrapper it had.
func Rewrap(v resource.PropertyValue, wasSecret bool) resource.PropertyValue {
	if wasSecret && !v.IsSecret() {
		return resource.MakeSecret(v)
	}
	return v
}

// DiffKinds maps the SDK's detailed-diff kinds onto the wire's.
var DiffKinds = map[plugin.DiffKind]pulumirpc.PropertyDiff_Kind{
	plugin.DiffAdd: pulumirpc.PropertyDiff_ADD, plugin.DiffAddReplace: pulumirpc.PropertyDiff_ADD_REPLACE,
	plugin.DiffDelete: pulumirpc.PropertyDiff_DELETE, plugin.DiffDeleteReplace: pulumirpc.PropertyDiff_DELETE_REPLACE,
	plugin.DiffUpdate: pulumirpc.PropertyDiff_UPDATE, plugin.DiffUpdateReplace: pulumirpc.PropertyDiff_UPDATE_REPLACE,
}
