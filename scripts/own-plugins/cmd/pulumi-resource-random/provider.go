package main

import (
	"context"
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/types/known/emptypb"
	"local/own-plugins/internal/grpcbase"
)

const passwordType = "random:index/randomPassword:RandomPassword"

// The id terraform-provider-random gives every random_password (and so the bridged
// pulumi-random): a static "none"; the password is in `result`.
const passwordID = "none"

// The schema of the one resource, as the bridged pulumi-random 4.21.4 gives it (types,
// required, secret outputs; descriptions shortened). The engine does not ask for it in
// preview/up/destroy; `pulumi package get-schema` and converters do.
//
//go:embed schema.json
var schemaJSON string

type randomProvider struct {
	grpcbase.Base
}

func newRandomProvider() *randomProvider {
	return &randomProvider{Base: grpcbase.Base{
		// DJANGO_STACK_RANDOM_PLUGIN_TRACE=FILE notes every RPC the engine makes.
		Name: "random", Version: Version, Schema: schemaJSON, TraceEnv: "DJANGO_STACK_RANDOM_PLUGIN_TRACE",
		Types: []string{passwordType}, Doc: "docs/engine-own-random.md",
	}}
}

func (p *randomProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return p.CheckWith(req, checkPassword)
}

// comparable is the inputs as Diff compares them: an empty overrideSpecial is the same as
// none, and so are empty keepers (upstream replaces "unless updating from empty string to
// null", and only when a keeper that is not null changes).
func comparable(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		if !isInput(string(k)) {
			continue
		}
		u := grpcbase.Unwrap(v)
		if (k == "overrideSpecial" && u.IsString() && u.StringValue() == "") ||
			(k == "keepers" && u.IsObject() && len(u.ObjectValue()) == 0) || u.IsNull() {
			continue
		}
		out[k] = v
	}
	return out
}

// Diff: every input of random_password requires replacement upstream (RequiresReplace on
// each attribute), so any change replaces: a new password is made before the old one is
// forgotten (create-before-delete, as the bridged plugin reports: deleteBeforeReplace false).
func (p *randomProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	p.Trace("Diff", req.GetUrn())
	if err := p.CheckType(req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := grpcbase.OldInputs(req)
	if err != nil {
		return nil, err
	}
	news, err := grpcbase.Props("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	olds, news = comparable(withDefaults(olds)), comparable(withDefaults(news))
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
	for path, d := range plugin.NewDetailedDiffFromObjectDiff(objDiff, true) {
		detailed[path] = &pulumirpc.PropertyDiff{Kind: grpcbase.DiffKinds[d.Kind.AsReplace()], InputDiff: true}
		name := path
		if i := strings.IndexAny(path, ".["); i > 0 {
			name = path[:i]
		}
		top[name] = true
	}
	resp := &pulumirpc.DiffResponse{
		Changes: pulumirpc.DiffResponse_DIFF_SOME, DetailedDiff: detailed, HasDetailedDiff: true,
		DeleteBeforeReplace: false,
	}
	for k := range top {
		resp.Diffs = append(resp.Diffs, k)
		resp.Replaces = append(resp.Replaces, k)
	}
	sort.Strings(resp.Diffs)
	sort.Strings(resp.Replaces)
	return resp, nil
}

// withResult is the state: the inputs as checked, the password and its bcrypt hash, both
// secret whatever the program asked (pulumi-random's Python SDK also lists them in
// additionalSecretOutputs, but a program in another SDK, or a raw resource, may not).
func withResult(inputs resource.PropertyMap, result, hash resource.PropertyValue) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range inputs {
		if isInput(string(k)) {
			out[k] = v
		}
	}
	out["result"] = grpcbase.Rewrap(result, true)
	out["bcryptHash"] = grpcbase.Rewrap(hash, true)
	return out
}

// bcryptMax is the most bytes bcrypt takes: x/crypto refuses longer (ErrPasswordTooLong).
const bcryptMax = 72

// hashOf is the bcrypt hash upstream stores beside the password (bcrypt.DefaultCost). As
// upstream's generateHash, a password longer than bcrypt takes is hashed by its first 72
// bytes, so a RandomPassword of length 100 works (seen under the bridged plugin too).
func hashOf(password string) (string, error) {
	hashed := []byte(password)
	if len(hashed) > bcryptMax {
		hashed = hashed[:bcryptMax]
	}
	hash, err := bcrypt.GenerateFromPassword(hashed, bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("bcrypt hash of the password: %w", err)
	}
	return string(hash), nil
}

func (p *randomProvider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	p.Trace("Create", fmt.Sprintf("%s preview=%v", req.GetUrn(), req.GetPreview()))
	if err := p.CheckType(req.GetUrn()); err != nil {
		return nil, err
	}
	m, err := grpcbase.Props("properties", req.GetProperties())
	if err != nil {
		return nil, err
	}
	unknown := resource.MakeComputed(resource.NewStringProperty(""))
	if req.GetPreview() {
		// No password is made in a preview: the real one is made by the up, so the preview
		// shows result and bcryptHash (and the id) as unknown.
		out, err := grpcbase.Marshal(withResult(withDefaults(m), unknown, unknown))
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Properties: out}, nil
	}
	m = withDefaults(m)
	params, ok := readParams(m)
	if !ok {
		return nil, fmt.Errorf("%s %s: the inputs are not all known", passwordType, resource.URN(req.GetUrn()).Name())
	}
	password, err := generate(params)
	if err != nil {
		return nil, err
	}
	hash, err := hashOf(password)
	if err != nil {
		return nil, err
	}
	out, err := grpcbase.Marshal(withResult(m, resource.NewStringProperty(password), resource.NewStringProperty(hash)))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: passwordID, Properties: out}, nil
}

// Read (refresh) keeps the state as it is: a password has nothing to read back. With no state
// (`pulumi import random:index/randomPassword:RandomPassword NAME PASSWORD`), the id is the
// password to adopt, and the state is what upstream's ImportState makes of it: length its
// length, every class on, the minimums 0, a fresh bcrypt hash, the id "none".
func (p *randomProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	p.Trace("Read", req.GetUrn())
	if err := p.CheckType(req.GetUrn()); err != nil {
		return nil, err
	}
	if len(req.GetProperties().GetFields()) > 0 {
		return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
	}
	password := req.GetId()
	if password == "" || password == passwordID {
		return nil, fmt.Errorf("import a RandomPassword with the password as the id (got %q)", password)
	}
	inputs := withDefaults(resource.PropertyMap{"length": resource.NewNumberProperty(float64(len(password)))})
	hash, err := hashOf(password)
	if err != nil {
		return nil, err
	}
	state, err := grpcbase.Marshal(withResult(inputs, resource.NewStringProperty(password), resource.NewStringProperty(hash)))
	if err != nil {
		return nil, err
	}
	in, err := grpcbase.Marshal(inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: passwordID, Properties: state, Inputs: in}, nil
}

// Update keeps the password: Diff replaces on every input change, so the engine calls Update
// only for changes Diff does not count (an empty overrideSpecial or keepers, given or not).
func (p *randomProvider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	p.Trace("Update", fmt.Sprintf("%s preview=%v", req.GetUrn(), req.GetPreview()))
	if err := p.CheckType(req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := grpcbase.Props("olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := grpcbase.Props("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	out, err := grpcbase.Marshal(withResult(withDefaults(news), olds["result"], olds["bcryptHash"]))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: out}, nil
}

// Delete forgets the password: there is nothing outside the state to remove.
func (p *randomProvider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	p.Trace("Delete", req.GetUrn())
	return &emptypb.Empty{}, nil
}
