package testenv

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Azurite's well-known development account (public, documented by
// Microsoft; it protects nothing).
const (
	devAccount = "devstoreaccount1"
	devKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azure is an Azure Blob server that a test can use, with a shared-key
// account that it accepts.
type Azure struct {
	// Endpoint is the account's blob endpoint, e.g.
	// http://127.0.0.1:PORT/devstoreaccount1.
	Endpoint string
	// Account and Key are the storage account name and its base64 shared
	// key.
	Account, Key string
}

// ConnectionString returns an Azure Storage connection string for the
// account, accepted by azblob.NewClientFromConnectionString.
func (a *Azure) ConnectionString() string {
	protocol := "https"
	if u, err := url.Parse(a.Endpoint); err == nil && u.Scheme == "http" {
		protocol = "http"
	}
	return fmt.Sprintf("DefaultEndpointsProtocol=%s;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
		protocol, a.Account, a.Key, a.Endpoint)
}

// StartAzure returns an Azure Blob server whose endpoint answers.
//
// By default it is an Azurite (azurite-blob) process on a free port of
// 127.0.0.1 with the development account devstoreaccount1, its data in
// t.TempDir(), stopped at cleanup. When CHRONOS_TEST_AZURE_ENDPOINT is set,
// it returns that server instead, with CHRONOS_TEST_AZURE_ACCOUNT and
// CHRONOS_TEST_AZURE_KEY (default: the development account).
func StartAzure(t testing.TB) *Azure {
	t.Helper()
	if endpoint := os.Getenv("CHRONOS_TEST_AZURE_ENDPOINT"); endpoint != "" {
		a := &Azure{
			Endpoint: strings.TrimSuffix(endpoint, "/"),
			Account:  os.Getenv("CHRONOS_TEST_AZURE_ACCOUNT"),
			Key:      os.Getenv("CHRONOS_TEST_AZURE_KEY"),
		}
		if a.Account == "" && a.Key == "" {
			a.Account, a.Key = devAccount, devKey
		}
		if a.Account == "" || a.Key == "" {
			t.Fatalf("testenv: set both CHRONOS_TEST_AZURE_ACCOUNT and CHRONOS_TEST_AZURE_KEY, or neither (the Azurite development account)")
		}
		return a
	}

	bin := mustFindTool(t, "node/node_modules/.bin", "azurite-blob", "CHRONOS_TEST_AZURE_ENDPOINT")
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("testenv: azurite-blob needs node in PATH: install Node.js 18 or later (Debian: apt-get install nodejs), or set CHRONOS_TEST_AZURE_ENDPOINT to use an external server")
	}
	root := t.TempDir()
	port := startServer(t, serverSpec{
		name: "azurite-blob",
		path: bin,
		dir:  root,
		args: func(port int) []string {
			return []string{
				"--blobHost", "127.0.0.1",
				"--blobPort", strconv.Itoa(port),
				"--location", root,
				"--skipApiVersionCheck",
				"--disableTelemetry",
				"--silent",
			}
		},
		// Any HTTP answer (an unsigned request is refused with 403) means
		// the blob service listens.
		readyAt: func(port int) string {
			return "http://127.0.0.1:" + strconv.Itoa(port) + "/" + devAccount + "?comp=list"
		},
		timeout: 60 * time.Second,
	})
	return &Azure{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port) + "/" + devAccount,
		Account:  devAccount,
		Key:      devKey,
	}
}
