package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const commandType = "command:remote:Command"

// The schema of the one resource: the engine does not ask for it in preview/up/destroy (see
// docs/engine-spike-command.md); `pulumi package get-schema` and converters would.
//
//go:embed schema.json
var schemaJSON string

type commandProvider struct {
	pulumirpc.UnimplementedResourceProviderServer
	host *provider.HostClient
	// Cancel ends every command in flight (the engine calls it on Ctrl-C).
	ctx    context.Context
	cancel context.CancelFunc
	trace  sync.Mutex
}

func newCommandProvider(host *provider.HostClient) *commandProvider {
	ctx, cancel := context.WithCancel(context.Background())
	return &commandProvider{host: host, ctx: ctx, cancel: cancel}
}

// traceCall notes each RPC the engine makes, when DJANGO_STACK_COMMAND_PLUGIN_TRACE names a
// file (how the spike saw which methods the engine calls, and with what flags).
func (p *commandProvider) traceCall(method string, detail string) {
	path := os.Getenv("DJANGO_STACK_COMMAND_PLUGIN_TRACE")
	if path == "" {
		return
	}
	p.trace.Lock()
	defer p.trace.Unlock()
	if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintf(f, "%s %s\n", method, detail)
		f.Close()
	}
}

// Secrets come and go as secret values (acceptSecrets), unknowns are kept (previews), and so
// are resource references in triggers (acceptResources).
var wire = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, SkipNulls: true}

func props(label string, st *structpb.Struct) (resource.PropertyMap, error) {
	o := wire
	o.Label = label
	return plugin.UnmarshalProperties(st, o)
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, wire)
}

func checkType(t string) error {
	if t != commandType {
		return status.Errorf(codes.InvalidArgument, "this command plugin carries out only %s, not %s "+
			"(docs/engine-spike-command.md)", commandType, t)
	}
	return nil
}

func typeOf(urn string) string { return string(resource.URN(urn).Type()) }

func (p *commandProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	p.traceCall("GetPluginInfo", "")
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (p *commandProvider) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	p.traceCall("GetSchema", fmt.Sprintf("version=%d", req.GetVersion()))
	schema := strings.Replace(schemaJSON, `"name": "command",`, fmt.Sprintf(`"name": "command", "version": %q,`, Version), 1)
	return &pulumirpc.GetSchemaResponse{Schema: schema}, nil
}

func (p *commandProvider) Handshake(_ context.Context, req *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	p.traceCall("Handshake", fmt.Sprintf("sendsOldOutputsToCheck=%v", req.GetSendsOldOutputsToCheck()))
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

// The provider itself has no configuration (pulumi-command's has none either).
func (p *commandProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	p.traceCall("CheckConfig", "")
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *commandProvider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	p.traceCall("DiffConfig", "")
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *commandProvider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	p.traceCall("Configure", fmt.Sprintf("acceptSecrets=%v acceptResources=%v sendsOldInputs=%v sendsOldInputsToDelete=%v",
		req.GetAcceptSecrets(), req.GetAcceptResources(), req.GetSendsOldInputs(), req.GetSendsOldInputsToDelete()))
	// acceptSecrets: the plugin sees which inputs are secret, so it can make stdout/stderr
	// secret when what produced them was (with false the engine would strip the secrets and
	// mark secret only the outputs named like a secret input).
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	p.traceCall("Check", req.GetUrn())
	if err := checkType(typeOf(req.GetUrn())); err != nil {
		return nil, err
	}
	news, err := props("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	checked, failures := checkInputs(news)
	inputs, err := marshal(checked)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

func inputsOnly(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		if commandInputs[string(k)] {
			out[k] = v
		}
	}
	return out
}

func isTriggers(path string) bool {
	return path == "triggers" || strings.HasPrefix(path, "triggers[") || strings.HasPrefix(path, "triggers.")
}

var kinds = map[plugin.DiffKind]pulumirpc.PropertyDiff_Kind{
	plugin.DiffAdd: pulumirpc.PropertyDiff_ADD, plugin.DiffAddReplace: pulumirpc.PropertyDiff_ADD_REPLACE,
	plugin.DiffDelete: pulumirpc.PropertyDiff_DELETE, plugin.DiffDeleteReplace: pulumirpc.PropertyDiff_DELETE_REPLACE,
	plugin.DiffUpdate: pulumirpc.PropertyDiff_UPDATE, plugin.DiffUpdateReplace: pulumirpc.PropertyDiff_UPDATE_REPLACE,
}

// Diff compares the old inputs with the new: a change of triggers replaces (create runs
// again); any other input change is an update, which runs `update`, or `create` when there
// is no `update` (pulumi-command 1.2.1: every input but triggers is updatable in place).
func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	p.traceCall("Diff", fmt.Sprintf("%s oldInputs=%v", req.GetUrn(), req.GetOldInputs() != nil))
	var olds resource.PropertyMap
	var err error
	if req.GetOldInputs() != nil {
		olds, err = props("oldInputs", req.GetOldInputs())
	} else {
		olds, err = props("olds", req.GetOlds())
	}
	if err != nil {
		return nil, err
	}
	news, err := props("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, news = inputsOnly(olds), inputsOnly(news)
	for _, path := range req.GetIgnoreChanges() {
		key := resource.PropertyKey(path)
		if v, ok := olds[key]; ok {
			news[key] = v
		} else {
			delete(news, key)
		}
	}
	objDiff := olds.Diff(news)
	if objDiff == nil || !objDiff.AnyChanges() {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true}, nil
	}
	detailed := map[string]*pulumirpc.PropertyDiff{}
	top := map[string]bool{}
	replaces := map[string]bool{}
	for path, d := range plugin.NewDetailedDiffFromObjectDiff(objDiff, true) {
		kind := d.Kind
		if isTriggers(path) {
			kind = kind.AsReplace()
			replaces["triggers"] = true
		}
		detailed[path] = &pulumirpc.PropertyDiff{Kind: kinds[kind], InputDiff: true}
		name := path
		if i := strings.IndexAny(path, ".["); i > 0 {
			name = path[:i]
		}
		top[name] = true
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, DetailedDiff: detailed, HasDetailedDiff: true}
	for k := range top {
		resp.Diffs = append(resp.Diffs, k)
	}
	for k := range replaces {
		resp.Replaces = append(resp.Replaces, k)
	}
	sort.Strings(resp.Diffs)
	return resp, nil
}

// commandOf is a string input (unwrapped) and whether it was secret; nil when absent.
func commandOf(m resource.PropertyMap, key string) (*string, bool) {
	v, ok := m[resource.PropertyKey(key)]
	if !ok || unwrap(v).IsNull() {
		return nil, false
	}
	s := unwrap(v)
	if !s.IsString() {
		return nil, false
	}
	text := s.StringValue()
	return &text, v.ContainsSecrets()
}

// outputSecret: stdout and stderr are secret when something that produced them was: the
// command that ran, its stdin or its environment (pulumi-command 1.2.1 leaves them plain
// unless the program lists them in additionalSecretOutputs).
func outputSecret(m resource.PropertyMap, command string) bool {
	for _, k := range []string{command, "stdin", "environment"} {
		if v, ok := m[resource.PropertyKey(k)]; ok && v.ContainsSecrets() {
			return true
		}
	}
	return false
}

func (p *commandProvider) logger(urn string, sev diag.Severity) func(string) {
	return func(msg string) {
		if p.host != nil {
			_ = p.host.LogStatus(p.ctx, sev, resource.URN(urn), msg)
		}
	}
}

// execute runs one of the inputs' commands (create, update or delete) with the resource's
// stdin and environment, and the previous stdout/stderr in PULUMI_COMMAND_STDOUT/STDERR.
func (p *commandProvider) execute(urn, which string, m resource.PropertyMap, previous resource.PropertyMap) (result, error) {
	command, _ := commandOf(m, which)
	e, err := readEndpoint(m["connection"])
	if err != nil {
		return result{}, err
	}
	r := &run{endpoint: e, command: *command, status: p.logger(urn, diag.Info)}
	r.stdin, _ = commandOf(m, "stdin")
	if env := unwrap(m["environment"]); env.IsObject() {
		r.env = map[string]string{}
		for k, v := range env.ObjectValue() {
			if s := unwrap(v); s.IsString() {
				r.env[string(k)] = s.StringValue()
			}
		}
	}
	if add := unwrap(m["addPreviousOutputInEnv"]); !add.IsBool() || add.BoolValue() {
		r.optionalEnv = map[string]string{}
		for key, name := range map[string]string{"stdout": "PULUMI_COMMAND_STDOUT", "stderr": "PULUMI_COMMAND_STDERR"} {
			if s := unwrap(previous[resource.PropertyKey(key)]); s.IsString() && s.StringValue() != "" {
				r.optionalEnv[name] = s.StringValue()
			}
		}
	}
	// Output lines go to the engine's progress display, as pulumi-command's do, except when
	// they would be secret outputs: a status line is shown in the clear.
	logging := "stdoutAndStderr"
	if l := unwrap(m["logging"]); l.IsString() {
		logging = l.StringValue()
	}
	if !outputSecret(m, which) {
		if logging == "stdout" || logging == "stdoutAndStderr" {
			r.logStdout = p.logger(urn, diag.Info)
		}
		if logging == "stderr" || logging == "stdoutAndStderr" {
			r.logStderr = p.logger(urn, diag.Info)
		}
	}
	res, err := r.execute(p.ctx)
	if err != nil {
		name := resource.URN(urn).Name()
		return res, fmt.Errorf("%s %s: %s failed: %s", commandType, name, which, mask(err.Error(), m))
	}
	return res, nil
}

func withOutputs(m resource.PropertyMap, which string, res *result, preview bool) resource.PropertyMap {
	out := m.Copy()
	for k := range out {
		if strings.HasPrefix(string(k), "__") {
			delete(out, k)
		}
	}
	secret := outputSecret(m, which)
	for key, text := range map[resource.PropertyKey]string{"stdout": res.stdout, "stderr": res.stderr} {
		v := resource.NewStringProperty(text)
		if preview {
			v = resource.MakeComputed(resource.NewStringProperty(""))
		}
		out[key] = rewrap(v, secret)
	}
	return out
}

func (p *commandProvider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	p.traceCall("Create", fmt.Sprintf("%s preview=%v", req.GetUrn(), req.GetPreview()))
	if err := checkType(typeOf(req.GetUrn())); err != nil {
		return nil, err
	}
	m, err := props("properties", req.GetProperties())
	if err != nil {
		return nil, err
	}
	// No id in a preview: the engine then shows it as unknown, where pulumi-command makes up
	// one that the real create does not keep.
	id := ""
	if !req.GetPreview() {
		if id, err = resource.NewUniqueHex(resource.URN(req.GetUrn()).Name(), 8, 0); err != nil {
			return nil, err
		}
	}
	res := result{}
	create, _ := commandOf(m, "create")
	if !req.GetPreview() && create != nil {
		if res, err = p.execute(req.GetUrn(), "create", m, nil); err != nil {
			return nil, err
		}
	}
	out, err := marshal(withOutputs(m, "create", &res, req.GetPreview() && create != nil))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: out}, nil
}

func (p *commandProvider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	p.traceCall("Update", fmt.Sprintf("%s preview=%v", req.GetUrn(), req.GetPreview()))
	olds, err := props("olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := props("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	which := "update"
	if c, _ := commandOf(news, "update"); c == nil {
		which = "create"
	}
	res := result{stdout: getString(olds, "stdout"), stderr: getString(olds, "stderr")}
	command, _ := commandOf(news, which)
	if !req.GetPreview() && command != nil {
		if res, err = p.execute(req.GetUrn(), which, news, olds); err != nil {
			return nil, err
		}
	}
	out, err := marshal(withOutputs(news, which, &res, req.GetPreview() && command != nil))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: out}, nil
}

func (p *commandProvider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	p.traceCall("Delete", req.GetUrn())
	m, err := props("properties", req.GetProperties())
	if err != nil {
		return nil, err
	}
	if c, _ := commandOf(m, "delete"); c != nil {
		if _, err := p.execute(req.GetUrn(), "delete", m, m); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

// Read (refresh) keeps what is in the state: a command has nothing to read back, as in
// pulumi-command.
func (p *commandProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	p.traceCall("Read", req.GetUrn())
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *commandProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.traceCall("Cancel", "")
	p.cancel()
	return &emptypb.Empty{}, nil
}
