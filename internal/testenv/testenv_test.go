package testenv

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/bson"
)

func TestNATSStreamRoundTrip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := StartNATS(t)
	_, js := n.Connect(t)

	name := "TESTENV_" + strings.ToUpper(randomHex(4))
	subject := "testenv." + name
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), name) })
	ack, err := js.Publish(ctx, subject, []byte("hello"))
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	msg, err := s.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatalf("get seq %d: %v", ack.Sequence, err)
	}
	if string(msg.Data) != "hello" || msg.Subject != subject {
		t.Fatalf("read back %q on %q, want %q on %q", msg.Data, msg.Subject, "hello", subject)
	}
}

// Two StartNATS give independent servers; with CHRONOS_TEST_NATS_URL both
// are that one external server, as doc.go says.
func TestStartNATSTwiceGivesIndependentServers(t *testing.T) {
	if ext := os.Getenv("CHRONOS_TEST_NATS_URL"); ext != "" {
		a, b := StartNATS(t), StartNATS(t)
		if a.URL != ext || b.URL != ext {
			t.Fatalf("with CHRONOS_TEST_NATS_URL=%s StartNATS gave %s and %s", ext, a.URL, b.URL)
		}
		return
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := StartNATS(t), StartNATS(t)
	if a.URL == b.URL {
		t.Fatalf("both servers at %s", a.URL)
	}
	_, jsA := a.Connect(t)
	_, jsB := b.Connect(t)
	if _, err := jsA.CreateStream(ctx, jetstream.StreamConfig{Name: "ONLY_A", Subjects: []string{"a.>"}}); err != nil {
		t.Fatalf("create stream on a: %v", err)
	}
	if _, err := jsB.Stream(ctx, "ONLY_A"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream ONLY_A on b: err = %v, want %v", err, jetstream.ErrStreamNotFound)
	}
}

func TestMongoInsertFind(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := StartMongo(t)
	if len(m.Prefix) > 20 || !regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(m.Prefix) {
		t.Errorf("Prefix %q: want at most 20 chars of [a-z0-9_]", m.Prefix)
	}
	if other := StartMongo(t); other.Prefix == m.Prefix {
		t.Errorf("two StartMongo share prefix %q", m.Prefix)
	}

	coll := m.Client.Database(m.Prefix + "db").Collection("items")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}, {Key: "v", Value: "one"}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var got bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "x"}}).Decode(&got); err != nil {
		t.Fatalf("find: %v", err)
	}
	if got["v"] != "one" {
		t.Fatalf("found %v, want v=one", got)
	}

	var info struct {
		Version string  `bson:"version"`
		OK      float64 `bson:"ok"`
	}
	if err := m.Client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		t.Fatalf("buildInfo: %v", err)
	}
	if info.OK != 1 || info.Version == "" {
		t.Fatalf("buildInfo = %+v, want ok 1 and a version", info)
	}
	t.Logf("buildInfo version %s", info.Version)
}

// s3Error is the XML error body every S3 implementation returns.
type s3Error struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
}

func TestS3EnforcesSignatures(t *testing.T) {
	t.Parallel()
	s := StartS3(t)
	if os.Getenv("CHRONOS_TEST_S3_ENDPOINT") == "" {
		resp := get(t, s.Endpoint+"/health")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /health: %s, want 200", resp.Status)
		}
	}

	resp := get(t, s.Endpoint+"/")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned GET /: %s, want 403\n%s", resp.Status, resp.body)
	}
	var e s3Error
	if err := xml.Unmarshal(resp.body, &e); err != nil || e.Code == "" {
		t.Fatalf("unsigned GET /: body is not an S3 XML error (%v):\n%s", err, resp.body)
	}
	t.Logf("unsigned GET / refused: %s", e.Code)
}

func TestAzureRefusesAnonymousList(t *testing.T) {
	t.Parallel()
	a := StartAzure(t)
	resp := get(t, a.Endpoint+"?comp=list")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous list containers: %s, want 403\n%s", resp.Status, resp.body)
	}
	code := resp.Header.Get("x-ms-error-code")
	if code == "" || !strings.Contains(string(resp.body), code) {
		t.Fatalf("anonymous list containers: error code %q, body:\n%s", code, resp.body)
	}
	server := resp.Header.Get("Server")
	if !strings.Contains(server, "Azurite") && !strings.Contains(server, "Azure") {
		t.Fatalf("Server header %q does not name Azurite or Azure", server)
	}
	t.Logf("refused with %s by %s", code, server)

	cs := a.ConnectionString()
	for _, want := range []string{"AccountName=" + a.Account, "AccountKey=" + a.Key, "BlobEndpoint=" + a.Endpoint} {
		if !strings.Contains(cs, want) {
			t.Errorf("ConnectionString() = %q, missing %q", cs, want)
		}
	}
}

func TestFindToolExplainsTheFix(t *testing.T) {
	t.Setenv("CHRONOS_TOOLS_DIR", t.TempDir())
	_, err := findTool("bin", "chronos-no-such-tool")
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("findTool error = %v, want one that says to run `make tools`", err)
	}
}

func TestToolsDirDefaultsToModuleRoot(t *testing.T) {
	t.Setenv("CHRONOS_TOOLS_DIR", "")
	dir := toolsDir()
	if filepath.Base(dir) != ".tools" {
		t.Fatalf("toolsDir() = %q, want <module root>/.tools", dir)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "go.mod")); err != nil {
		t.Fatalf("toolsDir() = %q: no go.mod next to it: %v", dir, err)
	}
}

type response struct {
	*http.Response
	body []byte
}

// get does an unauthenticated GET and reads the whole body.
func get(t *testing.T, url string) response {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return response{resp, body}
}
