package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chronos-go/chronos/events"
)

// DefaultTimeout bounds a call whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// maxResponse bounds a response body: a 16 MiB document, or the results
// of a 10,000-record batch, with room to spare.
const maxResponse = 64 << 20

// Client calls the Chronos HTTP API (ingest and query). It is safe for
// concurrent use; make one per API and reuse it.
type Client struct {
	base      string
	hc        *http.Client
	apiKey    string
	userAgent string
	retry     RetryPolicy
	timeout   time.Duration
}

// New returns a client of the API at baseURL, e.g. "http://127.0.0.1:8080"
// (an http or https URL, optionally with a path prefix when the API is
// mounted below one; no query or fragment).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: base URL %q: %v", ErrInvalidOption, baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%w: base URL %q must be http(s)://host[:port][/prefix], without credentials, query or fragment", ErrInvalidOption, baseURL)
	}
	c := &Client{
		base:      strings.TrimSuffix(u.String(), "/"),
		userAgent: "chronos-go-client/1",
		retry:     RetryPolicy{}.withDefaults(),
		timeout:   DefaultTimeout,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		c.hc = &http.Client{Transport: t}
	}
	return c, nil
}

// Collection returns the handle of one collection. Its tokens are checked
// here (events rules); a bad one makes every call of the handle fail with
// an error matching ErrInvalid.
func (c *Client) Collection(dbType events.DBType, tier events.Tier, scope, name string) *Collection {
	coll := events.Collection{DBType: dbType, Tier: tier, Scope: scope, Name: name}
	return &Collection{
		c:    c,
		coll: coll,
		path: "/v1/" + string(dbType) + "/" + string(tier) + "/" + scope + "/" + name,
		err:  coll.Validate(),
	}
}

// request is one API call.
type request struct {
	method string
	path   string // below the base URL
	query  url.Values
	header http.Header
	body   []byte
	// id is the item the call concerns, for error values.
	id string
	// noDedupe marks a write the server does not deduplicate (an atomic
	// batch): it is retried only when it cannot have reached the server.
	noDedupe bool
	// read marks a call that changes nothing whatever its method (a POST
	// of a list query).
	read bool
}

// safe reports whether repeating r cannot apply it twice.
func (r *request) safe() bool {
	return !r.noDedupe && (r.read || r.method == http.MethodGet || r.header.Get("Idempotency-Key") != "")
}

// call runs r with retries and decodes a 2xx JSON body into out.
func (c *Client) call(ctx context.Context, r request, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	body, err := c.withRetry(ctx, &r)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("chronos: %s %s: undecodable response: %w", r.method, r.path, err)
	}
	return nil
}

// once sends r one time. It returns the status and body of any HTTP
// answer, or the transport error.
func (c *Client) once(ctx context.Context, r *request) (int, http.Header, []byte, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %v", ErrInvalidOption, err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponse+1))
	if err != nil {
		return 0, nil, nil, err
	}
	if len(b) > maxResponse {
		return 0, nil, nil, fmt.Errorf("chronos: %s %s: response larger than %d bytes", r.method, r.path, maxResponse)
	}
	return res.StatusCode, res.Header, b, nil
}
