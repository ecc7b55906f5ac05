package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrBadOp is the kind of a [*KeyError] for an IncrementalAlterConfigs
// operation the key does not allow: APPEND or SUBTRACT on a key that is
// not a list.
var ErrBadOp = errors.New("config: operation not allowed")

// OpType is an IncrementalAlterConfigs operation, numbered as Kafka's
// AlterConfigOp.OpType and kmsg.IncrementalAlterConfigOp so it can be taken
// off the wire with a cast.
type OpType int8

// Operations of IncrementalAlterConfigs.
const (
	// OpSet sets the key to the value.
	OpSet OpType = 0
	// OpDelete removes the key, so its value falls back to the next level.
	OpDelete OpType = 1
	// OpAppend adds the comma-separated items of the value that the list
	// does not hold yet, at its end.
	OpAppend OpType = 2
	// OpSubtract removes every item of the value from the list.
	OpSubtract OpType = 3
)

// String returns Kafka's name of the operation.
func (o OpType) String() string {
	switch o {
	case OpSet:
		return "SET"
	case OpDelete:
		return "DELETE"
	case OpAppend:
		return "APPEND"
	case OpSubtract:
		return "SUBTRACT"
	}
	return fmt.Sprintf("OpType(%d)", int8(o))
}

// Valid reports whether o is one of the four operations.
func (o OpType) Valid() bool { return o >= OpSet && o <= OpSubtract }

// Op is one operation of an IncrementalAlterConfigs resource.
type Op struct {
	Name  string
	Op    OpType
	Value string // ignored by OpDelete
}

// Dynamic returns copies of the dynamic layers of b: the configs set for
// this broker and the cluster-wide defaults. Both are non-nil.
func (b *Broker) Dynamic() (perBroker, clusterDefault map[string]string) {
	perBroker, clusterDefault = maps.Clone(b.dynBroker), maps.Clone(b.dynDefault)
	if perBroker == nil {
		perBroker = map[string]string{}
	}
	if clusterDefault == nil {
		clusterDefault = map[string]string{}
	}
	return perBroker, clusterDefault
}

// ApplyTopicOps returns a copy of a topic's overrides with ops applied in
// order, as IncrementalAlterConfigs does on a TOPIC resource. APPEND and
// SUBTRACT start from the override if the topic has one, else from the
// topic's effective value (the broker synonym or default), so appending
// "compact" to an unset cleanup.policy gives "delete,compact". Errors
// match kerr.InvalidConfig as Kafka's controller answers them. The result
// is not validated: pass it to [ValidateTopicConfigs] and [Broker.Topic].
func (b *Broker) ApplyTopicOps(overrides map[string]string, ops []Op) (map[string]string, error) {
	t := defs()
	over, _ := parseTopicOverrides(overrides)
	out, err := applyOps(overrides, ops, func(k string) (*Def, string) {
		d := t.byTopic[k]
		if d == nil {
			return nil, ""
		}
		v, _ := b.topicValue(d, over)
		return d, formatValue(v)
	}, func(k string) error {
		return &KeyError{Key: k, Kind: ErrUnknownKey, Suggest: suggest(k, func(yield func(string) bool) {
			for _, d := range t.topic {
				if !yield(d.Name) {
					return
				}
			}
		})}
	})
	for _, e := range errs(err) {
		if ke, ok := e.(*KeyError); ok {
			ke.kafka = errInvalidConfig
		}
	}
	return out, err
}

// ApplyBrokerOps returns a copy of one dynamic broker layer (per broker or
// cluster default, from [Broker.Dynamic]) with ops applied in order, as
// IncrementalAlterConfigs does on a BROKER resource. APPEND and SUBTRACT
// start from the layer's value if it has one, else from the broker's
// effective value. The result is validated by [Broker.WithDynamic].
func (b *Broker) ApplyBrokerOps(layer map[string]string, ops []Op) (map[string]string, error) {
	t := defs()
	return applyOps(layer, ops, func(k string) (*Def, string) {
		d := t.byBroker[k]
		if d == nil {
			return nil, ""
		}
		if v := b.vals[k]; v != nil {
			return d, formatValue(v)
		}
		return d, ""
	}, func(k string) error { return unknownKey(k) })
}

func errs(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}

// applyOps applies ops to a copy of cur. lookup returns a key's definition
// (nil if unknown) and its current effective value.
func applyOps(cur map[string]string, ops []Op, lookup func(string) (*Def, string), unknown func(string) error) (map[string]string, error) {
	out := maps.Clone(cur)
	if out == nil {
		out = map[string]string{}
	}
	var errList []error
	for _, op := range ops {
		switch op.Op {
		case OpSet:
			out[op.Name] = op.Value
		case OpDelete:
			delete(out, op.Name)
		case OpAppend, OpSubtract:
			d, eff := lookup(op.Name)
			if d == nil {
				errList = append(errList, unknown(op.Name))
				continue
			}
			if d.Type != TypeList {
				errList = append(errList, &KeyError{Key: op.Name, Value: op.Value, Kind: ErrBadOp,
					Expected: fmt.Sprintf("%s needs a LIST config, but the key is a %s", op.Op, d.Type)})
				continue
			}
			base, ok := out[op.Name]
			if !ok {
				base = eff
			}
			items := nonEmpty(splitList(base))
			for _, v := range nonEmpty(splitList(op.Value)) {
				has := slices.Contains(items, v)
				switch {
				case op.Op == OpAppend && !has:
					items = append(items, v)
				case op.Op == OpSubtract && has:
					items = slices.DeleteFunc(items, func(s string) bool { return s == v })
				}
			}
			out[op.Name] = strings.Join(items, ",")
		default:
			errList = append(errList, &KeyError{Key: op.Name, Value: op.Value, Kind: ErrBadOp,
				Expected: fmt.Sprintf("an operation SET, DELETE, APPEND or SUBTRACT, not %d", int8(op.Op))})
		}
	}
	if err := errors.Join(errList...); err != nil {
		return nil, err
	}
	return out, nil
}

func nonEmpty(ss []string) []string {
	return slices.DeleteFunc(ss, func(s string) bool { return s == "" })
}

// DescribeDefault describes the cluster-wide dynamic defaults, as
// DescribeConfigs does for the BROKER resource "": only the keys set at
// that level, each with source DYNAMIC_DEFAULT_BROKER_CONFIG and, with
// synonyms, the lower-precedence values it overrides (per-broker values
// are left out: they are not part of the cluster default), as Kafka's
// ConfigHelper does.
func (b *Broker) DescribeDefault(synonyms, docs bool) []Entry {
	t := defs()
	var out []Entry
	for _, k := range slices.Sorted(maps.Keys(b.dynDefault)) {
		d := t.byBroker[k]
		if d == nil {
			continue // WithDynamic admits known keys only
		}
		out = append(out, b.defaultEntry(d, synonyms, docs))
	}
	return out
}

// defaultEntry describes cluster-default key d (set in b.dynDefault).
func (b *Broker) defaultEntry(d *Def, synonyms, docs bool) Entry {
	k := d.Name
	e := Entry{Name: k, Source: SourceDynamicDefaultBrokerConfig, ReadOnly: d.Mode == ReadOnly, Sensitive: d.Sensitive, Type: d.Type}
	if !d.Sensitive {
		v, err := d.parse(b.dynDefault[k])
		if err == nil {
			e.Value = val(formatValue(v))
		} else {
			e.Value = val(b.dynDefault[k])
		}
	}
	all := slices.DeleteFunc(b.synonyms(k, brokerSynonyms(k), d.Sensitive), func(s Synonym) bool {
		return s.Source == SourceDynamicBrokerConfig
	})
	if synonyms {
		e.Synonyms = all
	}
	if docs {
		e.Doc = d.Doc
	}
	return e
}

// Redact returns a copy of configs (topic overrides or broker settings)
// fit for logs: the value of every sensitive key reads "[hidden]".
func Redact(configs map[string]string) map[string]string {
	t := defs()
	return redact(configs, func(k string) bool {
		bd, td := t.byBroker[k], t.byTopic[k]
		return bd != nil && bd.Sensitive || td != nil && td.Sensitive
	})
}

func redact(configs map[string]string, sensitive func(string) bool) map[string]string {
	out := maps.Clone(configs)
	for k := range out {
		if sensitive(k) {
			out[k] = "[hidden]"
		}
	}
	return out
}
