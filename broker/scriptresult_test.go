package broker_test

import (
	"encoding/json"
	"reflect"
	"testing"
)

// scriptResult is the one JSON line a client script (kafkajs under node,
// kafka-python) prints: what each step returned, and what each step threw
// instead. The expected values live in the Go tests, so a script that
// stops early or answers differently fails them.
type scriptResult struct {
	Facts  map[string]json.RawMessage `json:"facts"`
	Errors map[string]string          `json:"errors"`
}

// fact decodes the fact of step into v; it fails the test, and returns
// false, when the step threw instead.
func (r scriptResult) fact(t *testing.T, step string, v any) bool {
	t.Helper()
	if e, ok := r.Errors[step]; ok {
		t.Errorf("%s: the client threw %s", step, e)
		return false
	}
	raw, ok := r.Facts[step]
	if !ok {
		t.Errorf("%s: no result (facts: %v)", step, keys(r.Facts))
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Errorf("%s: decoding %s: %v", step, raw, err)
		return false
	}
	return true
}

// expect checks that step's fact equals want, compared as JSON values.
func (r scriptResult) expect(t *testing.T, step string, want any) {
	t.Helper()
	var got any
	if !r.fact(t, step, &got) {
		return
	}
	wantJSON, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	var w any
	if err := json.Unmarshal(wantJSON, &w); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	if !reflect.DeepEqual(got, w) {
		gotJSON, _ := json.Marshal(got)
		t.Errorf("%s:\n got  %s\n want %s", step, gotJSON, wantJSON)
	}
}
