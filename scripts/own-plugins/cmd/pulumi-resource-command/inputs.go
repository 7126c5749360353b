package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"local/own-plugins/internal/grpcbase"
)

// The inputs of command:remote:Command this plugin carries out; anything else is refused in
// Check, so a program written for a newer pulumi-command fails before anything runs.
var commandInputs = map[string]bool{
	"connection": true, "create": true, "update": true, "delete": true, "stdin": true,
	"environment": true, "logging": true, "addPreviousOutputInEnv": true, "triggers": true,
}

// The fields of a connection, with pulumi-command's defaults (its schema's `default`s, which
// its Check writes into the inputs, so the state looks the same as pulumi-command's).
var connectionFields = map[string]bool{
	"host": true, "port": true, "user": true, "password": true, "privateKey": true,
	"privateKeyPassword": true, "hostKey": true, "dialErrorLimit": true, "perDialTimeout": true,
	"proxy": true,
}

var connectionDefaults = map[resource.PropertyKey]resource.PropertyValue{
	"user":           resource.NewStringProperty("root"),
	"port":           resource.NewNumberProperty(22),
	"dialErrorLimit": resource.NewNumberProperty(10),
	"perDialTimeout": resource.NewNumberProperty(15),
}

var loggingValues = map[string]bool{"stdout": true, "stderr": true, "stdoutAndStderr": true, "none": true}

type checker struct{ failures []*pulumirpc.CheckFailure }

func (c *checker) fail(property, format string, args ...any) {
	c.failures = append(c.failures, &pulumirpc.CheckFailure{Property: property, Reason: fmt.Sprintf(format, args...)})
}

// str checks that a value, when known and present, is a string.
func (c *checker) str(property string, v resource.PropertyValue) {
	v = grpcbase.Unwrap(v)
	if v.IsNull() || v.ContainsUnknowns() || v.IsString() {
		return
	}
	c.fail(property, "%s must be a string, got %s", property, v.TypeString())
}

func (c *checker) integer(property string, v resource.PropertyValue) {
	v = grpcbase.Unwrap(v)
	if v.IsNull() || v.ContainsUnknowns() {
		return
	}
	if !v.IsNumber() || v.NumberValue() != float64(int64(v.NumberValue())) {
		c.fail(property, "%s must be a whole number, got %v", property, v)
	}
}

// checkInputs validates the inputs of one Command and returns them with the connection's
// defaults filled in; secret and unknown values stay as they came.
func checkInputs(news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	c := &checker{}
	out := news.Copy()
	var unknown []string
	for k := range news {
		if !commandInputs[string(k)] && !strings.HasPrefix(string(k), "__") {
			unknown = append(unknown, string(k))
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		c.fail(k, "%s is not an input this command plugin knows (it carries out: connection, create, "+
			"update, delete, stdin, environment, logging, addPreviousOutputInEnv, triggers)", k)
	}
	for _, k := range []string{"create", "update", "delete", "stdin"} {
		c.str(k, news[resource.PropertyKey(k)])
	}
	if v := grpcbase.Unwrap(news["logging"]); v.IsString() && !loggingValues[v.StringValue()] {
		c.fail("logging", "logging must be one of stdout, stderr, stdoutAndStderr, none; got %q", v.StringValue())
	}
	if v := grpcbase.Unwrap(news["environment"]); !v.IsNull() && !v.ContainsUnknowns() {
		if !v.IsObject() {
			c.fail("environment", "environment must be a map of strings")
		} else {
			for k, e := range v.ObjectValue() {
				c.str("environment."+string(k), e)
			}
		}
	}
	if v := grpcbase.Unwrap(news["addPreviousOutputInEnv"]); !v.IsNull() && !v.ContainsUnknowns() && !v.IsBool() {
		c.fail("addPreviousOutputInEnv", "addPreviousOutputInEnv must be true or false")
	}
	if v := grpcbase.Unwrap(news["triggers"]); !v.IsNull() && !v.ContainsUnknowns() && !v.IsArray() {
		c.fail("triggers", "triggers must be a list")
	}
	conn, ok := news["connection"]
	if !ok || grpcbase.Unwrap(conn).IsNull() {
		c.fail("connection", "connection is required (host, and a privateKey or password)")
	} else {
		out["connection"] = c.connection("connection", conn, true)
	}
	return out, c.failures
}

// connection validates one connection object (or its proxy) and fills in the defaults.
func (c *checker) connection(path string, v resource.PropertyValue, allowProxy bool) resource.PropertyValue {
	secret := v.ContainsSecrets() && v.IsSecret()
	inner := grpcbase.Unwrap(v)
	if inner.ContainsUnknowns() && !inner.IsObject() {
		return v
	}
	if !inner.IsObject() {
		c.fail(path, "%s must be an object with host, port, user and privateKey", path)
		return v
	}
	obj := inner.ObjectValue().Copy()
	for k := range obj {
		name := string(k)
		if !connectionFields[name] || (name == "proxy" && !allowProxy) {
			c.fail(path+"."+name, "%s.%s is not a connection field this command plugin supports "+
				"(host, port, user, privateKey, privateKeyPassword, password, hostKey, dialErrorLimit, "+
				"perDialTimeout%s)", path, name, map[bool]string{true: ", proxy", false: ""}[allowProxy])
		}
	}
	if h := grpcbase.Unwrap(obj["host"]); h.IsNull() {
		c.fail(path+".host", "%s.host is required", path)
	}
	for _, k := range []string{"host", "user", "password", "privateKey", "privateKeyPassword", "hostKey"} {
		c.str(path+"."+k, obj[resource.PropertyKey(k)])
	}
	for _, k := range []string{"dialErrorLimit", "perDialTimeout", "port"} {
		c.integer(path+"."+k, obj[resource.PropertyKey(k)])
	}
	for k, d := range connectionDefaults {
		if cur, ok := obj[k]; !ok || cur.IsNull() {
			obj[k] = d
		}
	}
	if p, ok := obj["proxy"]; ok && allowProxy && !grpcbase.Unwrap(p).IsNull() {
		obj["proxy"] = c.connection(path+".proxy", p, false)
	}
	return grpcbase.Rewrap(resource.NewObjectProperty(obj), secret)
}

// endpoint is one SSH connection's settings, read from checked inputs.
type endpoint struct {
	Host, User, Password, PrivateKey, PrivateKeyPassword, HostKey string
	Port, DialErrorLimit, PerDialTimeout                          int
	Proxy                                                         *endpoint
}

func getString(m resource.PropertyMap, k string) string {
	v := grpcbase.Unwrap(m[resource.PropertyKey(k)])
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func getInt(m resource.PropertyMap, k string, def int) int {
	v := grpcbase.Unwrap(m[resource.PropertyKey(k)])
	if v.IsNumber() {
		return int(v.NumberValue())
	}
	return def
}

func readEndpoint(v resource.PropertyValue) (*endpoint, error) {
	v = grpcbase.Unwrap(v)
	if v.ContainsUnknowns() {
		return nil, fmt.Errorf("the connection is not known yet")
	}
	if !v.IsObject() {
		return nil, fmt.Errorf("no connection")
	}
	m := v.ObjectValue()
	e := &endpoint{
		Host: getString(m, "host"), User: getString(m, "user"), Password: getString(m, "password"),
		PrivateKey: getString(m, "privateKey"), PrivateKeyPassword: getString(m, "privateKeyPassword"),
		HostKey: getString(m, "hostKey"), Port: getInt(m, "port", 22),
		DialErrorLimit: getInt(m, "dialErrorLimit", 10), PerDialTimeout: getInt(m, "perDialTimeout", 15),
	}
	if e.User == "" {
		e.User = "root"
	}
	if p := grpcbase.Unwrap(m["proxy"]); p.IsObject() {
		proxy, err := readEndpoint(p)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		e.Proxy = proxy
	}
	return e, nil
}

// secretStrings lists the plaintext of every secret string in a value, to keep them out of
// error messages (and each line of a multi-line one: a script may echo one line of its stdin).
func secretStrings(v resource.PropertyValue, inSecret bool, out *[]string) {
	switch {
	case v.IsSecret():
		secretStrings(v.SecretValue().Element, true, out)
	case v.IsString() && inSecret:
		s := v.StringValue()
		if len(s) >= 4 { // a shorter one would blank out ordinary words
			*out = append(*out, s)
		}
		for _, line := range strings.Split(s, "\n") {
			if len(strings.TrimSpace(line)) >= 6 {
				*out = append(*out, line)
			}
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			secretStrings(e, inSecret, out)
		}
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			secretStrings(e, inSecret, out)
		}
	}
}

// credentialFields are the parts of a connection kept out of messages. The Python SDK makes
// the whole connection secret, but masking its host and user too would make every dial error
// unreadable ("dial [secret]:22").
var credentialFields = []resource.PropertyKey{"password", "privateKey", "privateKeyPassword"}

// mask replaces each secret's plaintext in a message, longest first: secret stdin, commands
// and environment, and the connection's (and its proxy's) credentials.
func mask(msg string, props resource.PropertyMap) string {
	var secrets []string
	rest := props.Copy()
	delete(rest, "connection")
	secretStrings(resource.NewObjectProperty(rest), false, &secrets)
	for conn := grpcbase.Unwrap(props["connection"]); conn.IsObject(); conn = grpcbase.Unwrap(conn.ObjectValue()["proxy"]) {
		for _, k := range credentialFields {
			secretStrings(conn.ObjectValue()[k], true, &secrets)
		}
	}
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[secret]")
		}
	}
	return msg
}
