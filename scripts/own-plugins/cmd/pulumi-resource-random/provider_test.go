package main

// What the engine test (tests/engine/test_random_plugin.py) cannot reach: import needs the
// Python language host, which the offline CLI does not have. Run: go test ./... in
// scripts/own-plugins.

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
	"local/own-plugins/internal/grpcbase"
)

const urn = "urn:pulumi:check::p::" + passwordType + "::adopted"

// `pulumi import` calls Read with the id given and no state: the password is adopted as
// upstream's ImportState does.
func TestImportAdoptsThePasswordGivenAsID(t *testing.T) {
	resp, err := newRandomProvider().Read(context.Background(), &pulumirpc.ReadRequest{Id: "Xy-Imported-Passw0rd", Urn: urn})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetId() != "none" {
		t.Errorf("id %q, want none", resp.GetId())
	}
	state, err := grpcbase.Props("state", resp.GetProperties())
	if err != nil {
		t.Fatal(err)
	}
	result := state["result"]
	if !result.IsSecret() || result.SecretValue().Element.StringValue() != "Xy-Imported-Passw0rd" {
		t.Errorf("result %v, want the id, secret", result)
	}
	hash := grpcbase.Unwrap(state["bcryptHash"]).StringValue()
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte("Xy-Imported-Passw0rd")) != nil {
		t.Errorf("bcryptHash %q is not the password's", hash)
	}
	inputs, err := grpcbase.Props("inputs", resp.GetInputs())
	if err != nil {
		t.Fatal(err)
	}
	if inputs["length"].NumberValue() != 20 || !inputs["special"].BoolValue() || inputs["minUpper"].NumberValue() != 0 {
		t.Errorf("inputs %v, want length 20, every class on, minimums 0", inputs)
	}
}

// A refresh keeps the state as it is.
func TestReadKeepsTheState(t *testing.T) {
	state, _ := grpcbase.Marshal(resource.PropertyMap{"length": resource.NewNumberProperty(3),
		"result": resource.MakeSecret(resource.NewStringProperty("abc"))})
	resp, err := newRandomProvider().Read(context.Background(), &pulumirpc.ReadRequest{Id: "none", Urn: urn, Properties: state})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetId() != "none" || resp.GetProperties() != state {
		t.Errorf("read %v, want the state unchanged", resp)
	}
}

func TestCheckRefusesWhatCannotBeMade(t *testing.T) {
	for _, c := range []struct {
		inputs resource.PropertyMap
		reason string
	}{
		{resource.PropertyMap{}, "length is required"},
		{resource.PropertyMap{"length": resource.NewNumberProperty(0)}, "length must be 1 or more, got 0"},
		{resource.PropertyMap{"length": resource.NewNumberProperty(2.5)}, "length must be a whole number"},
		{resource.PropertyMap{"length": resource.NewNumberProperty(4), "minUpper": resource.NewNumberProperty(-1)}, "minUpper must be 0 or more"},
		{resource.PropertyMap{"length": resource.NewNumberProperty(4), "number": resource.NewBoolProperty(false),
			"numeric": resource.NewBoolProperty(true)}, "number (false) and numeric (true) are both set"},
		{resource.PropertyMap{"length": resource.NewNumberProperty(4), "upper": resource.NewBoolProperty(false),
			"lower": resource.NewBoolProperty(false), "numeric": resource.NewBoolProperty(false),
			"special": resource.NewBoolProperty(false)}, "upper, lower, numeric and special are all false"},
		{resource.PropertyMap{"length": resource.NewNumberProperty(4), "size": resource.NewNumberProperty(4)}, "size is not an input"},
	} {
		_, failures := checkPassword(c.inputs)
		if len(failures) != 1 || !strings.Contains(failures[0].GetReason(), c.reason) {
			t.Errorf("check %v: %v, want one failure with %q", c.inputs, failures, c.reason)
		}
	}
	// Only minimums, every class off: fine (upstream draws each minimum from its class).
	_, failures := checkPassword(resource.PropertyMap{"length": resource.NewNumberProperty(2), "special": resource.NewBoolProperty(false),
		"upper": resource.NewBoolProperty(false), "lower": resource.NewBoolProperty(false), "numeric": resource.NewBoolProperty(false),
		"minUpper": resource.NewNumberProperty(1), "minNumeric": resource.NewNumberProperty(1)})
	if len(failures) != 0 {
		t.Errorf("minimums only: %v", failures)
	}
}

// A password longer than bcrypt takes is hashed by its first 72 bytes (upstream's generateHash).
func TestLongPasswordsAreHashedByTheirFirst72Bytes(t *testing.T) {
	long := strings.Repeat("a", 72) + strings.Repeat("b", 28)
	hash, err := hashOf(long)
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(long[:72])) != nil {
		t.Errorf("hash %q is not the first 72 bytes'", hash)
	}
}
