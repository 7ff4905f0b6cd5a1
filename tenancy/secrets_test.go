package tenancy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronos-go/chronos/events"
)

func TestConnStringMasking(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"mongodb://h:27017", "mongodb://h:27017"},
		{"mongodb://user:pw@h:27017/db", "mongodb://user:*****@h:27017/db"},
		{"mongodb+srv://user:p%40ss@cluster.example.net/?retryWrites=true", "mongodb+srv://user:*****@cluster.example.net/?retryWrites=true"},
		{"mongodb://user@h", "mongodb://user@h"},
		{"mongodb://u:p@ss@h1:1,h2:2/?replicaSet=rs", "mongodb://u:*****@h1:1,h2:2/?replicaSet=rs"},
		{"mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN:abc&tlsCertificateKeyFilePassword=x&w=1",
			"mongodb://h/?authMechanismProperties=*****&tlsCertificateKeyFilePassword=*****&w=1"},
		{"nats://a:pa@n1:4222,nats://b:pb@n2:4222", "nats://a:*****@n1:4222,nats://b:*****@n2:4222"},
		{"not a url but maybe a secret", Mask},
	}
	for _, tt := range tests {
		if got := ConnString(tt.in).String(); got != tt.want {
			t.Errorf("ConnString(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSecretsNeverPrinted prints, logs and marshals values holding secrets
// in every usual way and looks for the secrets in the output.
func TestSecretsNeverPrinted(t *testing.T) {
	secrets := []string{"s3-secret-key-value", "AKIAEXAMPLEACCESS", "mongo-secret-pw"}
	sc := SpacesConnection{Endpoint: "https://s3.example.com", AccessKey: "AKIAEXAMPLEACCESS", SecretKey: "s3-secret-key-value"}
	rt := Route{
		Collection: events.Collection{DBType: events.DBRuntime, Tier: events.TierTenant, Scope: "a", Name: "c"},
		MongoURI:   "mongodb://u:mongo-secret-pw@h:27017", Spaces: sc,
	}
	var out bytes.Buffer
	for _, v := range []any{sc, &sc, rt, &rt, sc.SecretKey, rt.MongoURI} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
	}
	log := slog.New(slog.NewJSONHandler(&out, nil))
	log.Info("route", "route", rt, "spaces", sc, "key", sc.SecretKey, "uri", rt.MongoURI)
	log2 := slog.New(slog.NewTextHandler(&out, nil))
	log2.Info("route", "key", sc.SecretKey, "uri", rt.MongoURI, "spaces", sc)
	for _, s := range secrets {
		if strings.Contains(out.String(), s) || strings.Contains(out.String(), fmt.Sprintf("%x", s)) {
			t.Errorf("secret %q appears in the output:\n%s", s, out.String())
		}
	}
	if !strings.Contains(out.String(), Mask) {
		t.Error("no mask in the output")
	}
	if sc.SecretKey.Reveal() != "s3-secret-key-value" || rt.MongoURI.Reveal() != "mongodb://u:mongo-secret-pw@h:27017" {
		t.Error("Reveal does not return the value")
	}
}

func TestMaskedConfig(t *testing.T) {
	for _, name := range examples {
		cfg, err := LoadEnv(filepath.Join("testdata", name+".json"), testEnv(exampleEnv))
		if err != nil {
			t.Fatal(err)
		}
		shown, err := cfg.Masked()
		if err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{string(shown), cfg.String(), fmt.Sprintf("%v %+v", cfg, *cfg)} {
			for k, v := range exampleEnv {
				if strings.Contains(out, v) {
					t.Errorf("%s: the value of %s appears in the masked config", name, k)
				}
			}
			for _, k := range cfg.authKeys() {
				if strings.Contains(out, k) {
					t.Errorf("%s: a key hash appears in the masked config", name)
				}
			}
		}
		if !json.Valid(shown) {
			t.Errorf("%s: Masked is not JSON", name)
		}
	}
	// What is not secret stays readable.
	cfg, _ := LoadEnv("testdata/saas.json", testEnv(exampleEnv))
	shown, _ := cfg.Masked()
	for _, want := range []string{`"mongoUri": "mongodb://chronos:*****@mongo-1:27017,mongo-2:27017/?replicaSet=rs0"`, `"secretKey": "*****"`, `"partitions": 16`, `"sha256": "*****"`} {
		if !strings.Contains(string(shown), want) {
			t.Errorf("Masked lacks %s:\n%s", want, shown)
		}
	}
}

func (c *Config) authKeys() []string {
	var out []string
	if c.Auth != nil {
		for _, k := range c.Auth.Keys {
			out = append(out, k.SHA256.Reveal())
		}
	}
	return out
}

// TestErrorsHideSecrets puts secrets where validation fails and checks
// that no error message repeats them.
func TestErrorsHideSecrets(t *testing.T) {
	const pw = "hunter2-secret"
	cases := []string{
		`{"dbConnections": {"m": {"mongoUri": "postgres://u:` + pw + `@h"}}}`,
		`{"dbConnections": {"m": {"mongoUri": "mongodb://u:` + pw + `@"}}}`,
		`{"dbConnections": {"m": {"mongoUri": "` + pw + `"}}}`,
		`{"spacesConnections": {"s": {"endpoint": "https://u:` + pw + `@s3.example.com", "accessKey": "a", "secretKey": "b"}}}`,
		`{"spacesConnections": {"s": {"endpoint": "https://s3.example.com", "secretKey": "` + pw + `"}}}`,
		`{"spacesConnections": {"s": {"type": "local", "basePath": "/x", "secretKey": "` + pw + `", "accessKey": "` + pw + `"}}}`,
		`{"spacesConnections": {"s": {"endpoint": "https://s3.example.com", "secretKey": 5, "accessKey": "` + pw + `"}}}`,
		`{"auth": {"keys": [{"name": "k", "sha256": "` + pw + `", "generic": true, "rights": ["read"]}]}}`,
		`{"nats": {"url": "http://u:` + pw + `@h"}}`,
		`{"nats": {"replicas": "ENV.PW"}}`,
		`{"localStorage": {"enabled": "ENV.PW"}}`,
		`{"dbConnections": {"m": {"mongoUri": "ENV.PW"}}}`,
		`{"dbConnections": {"m": {"mongoUri": "mongodb://u:` + pw + `@h"}}, "nats": {"duplicateWindow": "ENV.PW"}}`,
	}
	for _, c := range cases {
		_, err := Parse([]byte(c), testEnv(map[string]string{"PW": pw}))
		if err == nil {
			t.Errorf("Parse(%s) succeeded", c)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error repeats a secret: %v", err)
		}
	}

	// A driver error quoting the URI is scrubbed too.
	p := NewPool[any](nil, PoolOptions{})
	_, err := p.Mongo(context.Background(), ConnString("mongodb://u:"+pw+"@h:notaport/"))
	if err == nil {
		t.Fatal("Mongo accepted a bad URI")
	}
	if strings.Contains(err.Error(), pw) {
		t.Errorf("pool error repeats the password: %v", err)
	}
}
