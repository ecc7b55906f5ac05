package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Type is a config's data type, numbered as kmsg.ConfigType (and Kafka's
// DescribeConfigs ConfigType) so it can be put on the wire with a cast.
type Type int8

// Config types, in kmsg.ConfigType's numbering.
const (
	TypeUnknown  Type = 0
	TypeBoolean  Type = 1
	TypeString   Type = 2
	TypeInt      Type = 3
	TypeShort    Type = 4
	TypeLong     Type = 5
	TypeDouble   Type = 6
	TypeList     Type = 7
	TypeClass    Type = 8
	TypePassword Type = 9
)

// String returns Kafka's upper-case name of the type.
func (t Type) String() string {
	switch t {
	case TypeBoolean:
		return "BOOLEAN"
	case TypeString:
		return "STRING"
	case TypeInt:
		return "INT"
	case TypeShort:
		return "SHORT"
	case TypeLong:
		return "LONG"
	case TypeDouble:
		return "DOUBLE"
	case TypeList:
		return "LIST"
	case TypeClass:
		return "CLASS"
	case TypePassword:
		return "PASSWORD"
	}
	return "UNKNOWN"
}

// Source says where a described value comes from, numbered as
// kmsg.ConfigSource so it can be put on the wire with a cast.
type Source int8

// Config sources, in kmsg.ConfigSource's numbering.
const (
	SourceUnknown                    Source = 0
	SourceDynamicTopicConfig         Source = 1
	SourceDynamicBrokerConfig        Source = 2
	SourceDynamicDefaultBrokerConfig Source = 3
	SourceStaticBrokerConfig         Source = 4
	SourceDefaultConfig              Source = 5
)

// String returns Kafka's name of the source, as kafka-configs prints it.
func (s Source) String() string {
	switch s {
	case SourceDynamicTopicConfig:
		return "DYNAMIC_TOPIC_CONFIG"
	case SourceDynamicBrokerConfig:
		return "DYNAMIC_BROKER_CONFIG"
	case SourceDynamicDefaultBrokerConfig:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case SourceStaticBrokerConfig:
		return "STATIC_BROKER_CONFIG"
	case SourceDefaultConfig:
		return "DEFAULT_CONFIG"
	}
	return "UNKNOWN"
}

// UpdateMode says whether and how a broker config may change at run time,
// following Kafka's DynamicBrokerConfig lists. Topic configs are always
// changeable per topic.
type UpdateMode int8

// Update modes.
const (
	// ReadOnly configs need a restart to change.
	ReadOnly UpdateMode = iota
	// PerBroker configs may be changed for one broker at a time.
	PerBroker
	// ClusterWide configs may be changed for all brokers at once (and, as in
	// Kafka, for one broker too).
	ClusterWide
	// PerTopic marks topic configs.
	PerTopic
)

// String returns the mode as Kafka's documentation spells it.
func (m UpdateMode) String() string {
	switch m {
	case PerBroker:
		return "per-broker"
	case ClusterWide:
		return "cluster-wide"
	case PerTopic:
		return "per-topic"
	}
	return "read-only"
}

// Sentinel errors; every [*KeyError] matches exactly one of them or
// [ErrBadOp].
var (
	// ErrUnknownKey: the key is not a config Sluice knows.
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrInvalidValue: the value does not parse as the key's type or is
	// outside its valid range or set.
	ErrInvalidValue = errors.New("config: invalid value")
	// ErrConflict: values that are fine alone contradict each other.
	ErrConflict = errors.New("config: conflicting values")
)

// KeyError reports a problem with one config key. Error() names the key,
// the value and what is expected, so the message alone tells a user what to
// fix.
type KeyError struct {
	Key      string
	Value    string
	Expected string // what would have been accepted, or the conflict
	Suggest  string // for an unknown key, a known key one typo away
	Kind     error  // ErrUnknownKey, ErrInvalidValue, ErrConflict or ErrBadOp
	// kafka is an extra error to match (kerr.InvalidConfig for topic
	// configs), so protocol handlers can map the error to a code.
	kafka error
}

func (e *KeyError) Error() string {
	switch {
	case errors.Is(e.Kind, ErrUnknownKey):
		msg := fmt.Sprintf("config: unknown key %q", e.Key)
		if e.Suggest != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", e.Suggest)
		}
		return msg
	case errors.Is(e.Kind, ErrConflict), errors.Is(e.Kind, ErrBadOp):
		return fmt.Sprintf("config: %s=%q: %s", e.Key, e.Value, e.Expected)
	}
	return fmt.Sprintf("config: %s=%q is invalid: expected %s", e.Key, e.Value, e.Expected)
}

// Unwrap lets errors.Is match the kind and, for topic configs,
// kerr.InvalidConfig.
func (e *KeyError) Unwrap() []error {
	if e.kafka != nil {
		return []error{e.Kind, e.kafka}
	}
	return []error{e.Kind}
}

// errInvalidConfig is what topic config errors also match, so protocol
// handlers can answer INVALID_CONFIG.
var errInvalidConfig error = kerr.InvalidConfig

// Def defines one config key. Defs are read through [BrokerDefs] and
// [TopicDefs], which return copies: the table itself is never mutated.
type Def struct {
	Name string
	Type Type
	// Default is the default as Kafka prints it; HasDefault is false for
	// keys with no default (Kafka's null), such as log.retention.ms, whose
	// value then comes from a lower-precedence synonym.
	Default    string
	HasDefault bool
	// Valid describes the accepted values ("[1,...]", "[delete, compact]").
	Valid string
	Doc   string
	Mode  UpdateMode
	// Sensitive values are never printed or returned.
	Sensitive bool
	// Synonyms are, for a topic config, the broker keys its value falls back
	// to, most specific first (retention.ms: log.retention.ms,
	// log.retention.minutes, log.retention.hours).
	Synonyms []string
	// KafkaDefault is set when Sluice's default differs from Apache Kafka's;
	// Note says why.
	KafkaDefault string
	Note         string
	// Deprecated names the key that replaces this one.
	Deprecated string

	check  func(v any) bool // nil = any value of the type
	scales []int64          // per synonym: multiplier to the topic's unit
}

// A def option adjusts a table entry; used only while building the table.
type opt func(*Def)

func def(name string, t Type, dflt *string, doc string, opts ...opt) Def {
	d := Def{Name: name, Type: t, Doc: doc}
	if dflt != nil {
		d.Default, d.HasDefault = *dflt, true
	}
	for _, o := range opts {
		o(&d)
	}
	return d
}

func val(s string) *string { return &s }

var noDefault *string

func atLeast(n float64) opt {
	return func(d *Def) {
		d.Valid = "[" + trimFloat(n) + ",...]"
		d.check = func(v any) bool { f, ok := asFloat(v); return ok && f >= n }
	}
}

func between(lo, hi float64) opt {
	return func(d *Def) {
		d.Valid = "[" + trimFloat(lo) + ",...," + trimFloat(hi) + "]"
		d.check = func(v any) bool { f, ok := asFloat(v); return ok && f >= lo && f <= hi }
	}
}

// oneOf accepts a string among vals, or for a LIST a non-empty list of
// distinct members of vals. Matching is case-sensitive, as in Kafka.
func oneOf(vals ...string) opt {
	return func(d *Def) {
		d.Valid = "[" + strings.Join(vals, ", ") + "]"
		d.check = func(v any) bool {
			switch v := v.(type) {
			case string:
				return slices.Contains(vals, v)
			case []string:
				if len(v) == 0 {
					return false
				}
				for i, s := range v {
					if !slices.Contains(vals, s) || slices.Contains(v[:i], s) {
						return false
					}
				}
				return true
			}
			return false
		}
	}
}

func mode(m UpdateMode) opt { return func(d *Def) { d.Mode = m } }

func sluiceDefault(kafka, why string) opt {
	return func(d *Def) { d.KafkaDefault, d.Note = kafka, why }
}

func deprecated(by string) opt { return func(d *Def) { d.Deprecated = by } }

// synonyms lists broker keys with the factor that converts each into the
// topic key's unit (hours to milliseconds, ...).
func synonyms(pairs ...any) opt {
	return func(d *Def) {
		for i := 0; i < len(pairs); i += 2 {
			d.Synonyms = append(d.Synonyms, pairs[i].(string))
			d.scales = append(d.scales, int64(pairs[i+1].(int)))
		}
	}
}

func asFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case int16:
		return float64(v), true
	case int32:
		return float64(v), true
	case int64:
		return float64(v), true
	case float64:
		return v, !math.IsNaN(v)
	}
	return 0, false
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// parseValue parses s as Kafka's ConfigDef does for type t: surrounding
// whitespace is ignored, booleans are "true"/"false" in any case, lists are
// comma-separated with spaces around items dropped.
func parseValue(t Type, s string) (any, string, bool) {
	s = strings.TrimSpace(s)
	switch t {
	case TypeBoolean:
		switch {
		case strings.EqualFold(s, "true"):
			return true, "", true
		case strings.EqualFold(s, "false"):
			return false, "", true
		}
		return nil, "true or false", false
	case TypeInt:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, "a 32-bit integer (INT)", false
		}
		return int32(n), "", true
	case TypeShort:
		n, err := strconv.ParseInt(s, 10, 16)
		if err != nil {
			return nil, "a 16-bit integer (SHORT)", false
		}
		return int16(n), "", true
	case TypeLong:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, "a 64-bit integer (LONG)", false
		}
		return n, "", true
	case TypeDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, "a finite number (DOUBLE)", false
		}
		return f, "", true
	case TypeList:
		return splitList(s), "", true
	}
	return s, "", true
}

func splitList(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return []string{}
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// parse parses and validates a value for d, returning a *KeyError that
// names the key, the value and what was expected.
func (d *Def) parse(s string) (any, error) {
	v, want, ok := parseValue(d.Type, s)
	if ok && d.check != nil && !d.check(v) {
		ok, want = false, "a value in "+d.Valid
	}
	if ok && d.Type == TypeList && d.check == nil {
		for _, item := range v.([]string) {
			if item == "" {
				ok, want = false, "a comma-separated list with no empty items"
				break
			}
		}
	}
	if !ok {
		return nil, &KeyError{Key: d.Name, Value: s, Expected: want, Kind: ErrInvalidValue}
	}
	return v, nil
}

// formatValue prints a parsed value as Kafka's ConfigDef.convertToString
// does, so described values look like Kafka's (lists joined by ",",
// doubles as Java prints them: 0.5, 1.0, 1.0E-4).
func formatValue(v any) string {
	switch v := v.(type) {
	case bool:
		return strconv.FormatBool(v)
	case int16:
		return strconv.FormatInt(int64(v), 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return javaDouble(v)
	case []string:
		return strings.Join(v, ",")
	case string:
		return v
	}
	return fmt.Sprint(v)
}

// javaDouble formats f as Java's Double.toString: plain notation with at
// least one fractional digit between 1e-3 and 1e7, else computerized
// scientific notation.
func javaDouble(f float64) string {
	a := math.Abs(f)
	if a == 0 || (a >= 1e-3 && a < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	neg := strings.HasPrefix(exp, "-")
	exp = strings.TrimLeft(exp, "+-0")
	if neg {
		exp = "-" + exp
	}
	return mant + "E" + exp
}

// suggest returns the known name closest to name if it is a plausible typo
// (edit distance at most 2, or 3 for long names).
func suggest(name string, known func(yield func(string) bool)) string {
	best, bestD := "", 1<<30
	limit := 2
	if len(name) > 15 {
		limit = 3
	}
	for k := range known {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= limit {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
