package ingest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chronos-go/chronos/events"
	"github.com/chronos-go/chronos/internal/httpapi"
	"github.com/chronos-go/chronos/tenancy"
)

// checkScope fails with a *tenancy.UnknownTenantError (404) when c's scope
// is not configured, before anything reaches the log.
func (s *Service) checkScope(ctx context.Context, c events.Collection) error {
	if s.opts.Router == nil {
		return nil
	}
	_, err := s.opts.Router.RouteContext(ctx, c)
	return err
}

// collectionMap returns the map of c, if the configuration has one.
func (s *Service) collectionMap(c events.Collection) (tenancy.CollectionMap, bool) {
	if s.opts.Router == nil {
		return tenancy.CollectionMap{}, false
	}
	m, ok := s.opts.Router.Config().CollectionMaps[c.Name]
	return m, ok
}

// applyMap checks doc against c's collection map and returns the indexed
// properties to carry as the event's meta: every required property present
// (all missing ones are named at once), every base64 property a valid
// base64 string.
func (s *Service) applyMap(c events.Collection, field string, doc []byte) (map[string]json.RawMessage, error) {
	cm, ok := s.collectionMap(c)
	if !ok {
		return nil, nil
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(doc, &root); err != nil {
		return nil, httpapi.Invalid(field, "is not a JSON object")
	}
	if cm.Validation != nil {
		var missing []string
		for _, p := range cm.Validation.RequiredIndexed {
			if v, ok := root[p]; !ok || string(v) == "null" {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			return nil, httpapi.Invalid(field, fmt.Sprintf("collection %q requires %s; missing: %s", c.Name, plural(len(missing), "property", "properties"), strings.Join(missing, ", ")))
		}
	}
	for p := range cm.Base64Props {
		v, ok := root[p]
		if !ok || string(v) == "null" {
			continue
		}
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			return nil, httpapi.Invalid(field+"."+p, "is a base64 property and must be a string")
		}
		if _, err := base64.StdEncoding.DecodeString(str); err != nil {
			if _, err2 := base64.RawStdEncoding.DecodeString(str); err2 != nil {
				return nil, httpapi.Invalid(field+"."+p, "is not valid base64: "+err.Error())
			}
		}
	}
	var meta map[string]json.RawMessage
	for _, p := range cm.IndexedProps {
		if v, ok := root[p]; ok {
			if meta == nil {
				meta = make(map[string]json.RawMessage, len(cm.IndexedProps))
			}
			meta[p] = v
		}
	}
	return meta, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
