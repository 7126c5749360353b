package main

import (
	"context"
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"local/own-plugins/internal/grpcbase"
)

const commandType = "command:remote:Command"

// The schema of the one resource: the engine does not ask for it in preview/up/destroy (see
// docs/engine-spike-command.md); `pulumi package get-schema` and converters would.
//
//go:embed schema.json
var schemaJSON string

type commandProvider struct {
	grpcbase.Base
	host *provider.HostClient
	// Cancel ends every command in flight (the engine calls it on Ctrl-C).
	ctx    context.Context
	cancel context.CancelFunc
}

func newCommandProvider(host *provider.HostClient) *commandProvider {
	ctx, cancel := context.WithCancel(context.Background())
	return &commandProvider{
		// DJANGO_STACK_COMMAND_PLUGIN_TRACE=FILE notes every RPC (docs/engine-spike-command.md).
		Base: grpcbase.Base{
			Name: "command", Version: Version, Schema: schemaJSON, TraceEnv: "DJANGO_STACK_COMMAND_PLUGIN_TRACE",
			Types: []string{commandType}, Doc: "docs/engine-spike-command.md",
		},
		host: host, ctx: ctx, cancel: cancel,
	}
}

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return p.CheckWith(req, checkInputs)
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

// Diff compares the old inputs with the new: a change of triggers replaces (create runs
// again); any other input change is an update, which runs `update`, or `create` when there
// is no `update` (pulumi-command 1.2.1: every input but triggers is updatable in place).
func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	p.Trace("Diff", fmt.Sprintf("%s oldInputs=%v", req.GetUrn(), req.GetOldInputs() != nil))
	olds, err := grpcbase.OldInputs(req)
	if err != nil {
		return nil, err
	}
	news, err := grpcbase.Props("news", req.GetNews())
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
		detailed[path] = &pulumirpc.PropertyDiff{Kind: grpcbase.DiffKinds[kind], InputDiff: true}
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
	if !ok || grpcbase.Unwrap(v).IsNull() {
		return nil, false
	}
	s := grpcbase.Unwrap(v)
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
	if env := grpcbase.Unwrap(m["environment"]); env.IsObject() {
		r.env = map[string]string{}
		for k, v := range env.ObjectValue() {
			if s := grpcbase.Unwrap(v); s.IsString() {
				r.env[string(k)] = s.StringValue()
			}
		}
	}
	if add := grpcbase.Unwrap(m["addPreviousOutputInEnv"]); !add.IsBool() || add.BoolValue() {
		r.optionalEnv = map[string]string{}
		for key, name := range map[string]string{"stdout": "PULUMI_COMMAND_STDOUT", "stderr": "PULUMI_COMMAND_STDERR"} {
			if s := grpcbase.Unwrap(previous[resource.PropertyKey(key)]); s.IsString() && s.StringValue() != "" {
				r.optionalEnv[name] = s.StringValue()
			}
		}
	}
	// Output lines go to the engine's progress display, as pulumi-command's do, except when
	// they would be secret outputs: a status line is shown in the clear.
	logging := "stdoutAndStderr"
	if l := grpcbase.Unwrap(m["logging"]); l.IsString() {
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
		out[key] = grpcbase.Rewrap(v, secret)
	}
	return out
}

func (p *commandProvider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	p.Trace("Create", fmt.Sprintf("%s preview=%v", req.GetUrn(), req.GetPreview()))
	if err := p.CheckType(req.GetUrn()); err != nil {
		return nil, err
	}
	m, err := grpcbase.Props("properties", req.GetProperties())
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
	out, err := grpcbase.Marshal(withOutputs(m, "create", &res, req.GetPreview() && create != nil))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: out}, nil
}

func (p *commandProvider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	p.Trace("Update", fmt.Sprintf("%s preview=%v", req.GetUrn(), req.GetPreview()))
	olds, err := grpcbase.Props("olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := grpcbase.Props("news", req.GetNews())
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
	out, err := grpcbase.Marshal(withOutputs(news, which, &res, req.GetPreview() && command != nil))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: out}, nil
}

func (p *commandProvider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	p.Trace("Delete", req.GetUrn())
	m, err := grpcbase.Props("properties", req.GetProperties())
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
	p.Trace("Read", req.GetUrn())
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *commandProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.Trace("Cancel", "")
	p.cancel()
	return &emptypb.Empty{}, nil
}
