package server

// Dynamic configs: the logic AlterConfigs (33) and IncrementalAlterConfigs
// (44) share. Both reduce each request resource to an alterResource whose
// next function computes the resource's new configs from its current ones;
// validation, persistence in the metadata log and the live update of the
// broker config and of open topics happen here, as in Kafka's
// ConfigAdminManager (preprocessing) and ConfigurationControlManager
// (persistence).

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/config"
	"github.com/sluicehq/sluice/broker/internal/meta"
)

// apiError is a per-resource error: a Kafka error code and the message the
// client sees, which says what is wrong and why without repeating the
// code's generic text.
type apiError struct {
	code *kerr.Error
	msg  string
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.code }

func apiErr(code *kerr.Error, format string, args ...any) error {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// oneLine joins the messages of errors.Join'ed errors with "; ".
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// restartOnly are broker keys Kafka lets a broker change at run time that
// Sluice cannot apply without a restart: they decide which sockets are
// bound and what Metadata advertises, both fixed at start.
var restartOnly = map[string]bool{
	"listeners":                      true,
	"advertised.listeners":           true,
	"listener.security.protocol.map": true,
}

// alterResource is one resource of an (incremental) AlterConfigs request.
type alterResource struct {
	typ  kmsg.ConfigResourceType
	name string
	// keys are the config names in the request, for the duplicate check;
	// nulls those whose value is null where the operation needs one.
	keys, nulls []string
	// err is an error found while decoding the resource (an unknown
	// operation); it is reported after the duplicate checks.
	err error
	// next returns the resource's new configs: the topic's overrides, or
	// the broker layer's dynamic configs. cur is a copy.
	next func(b *config.Broker, cur map[string]string, topic bool) (map[string]string, error)
}

// alterConfigs checks and applies resources in request order and returns
// one error (nil on success) per resource. With validateOnly nothing is
// stored or changed.
func (s *Server) alterConfigs(res []alterResource, validateOnly bool) []error {
	out := make([]error, len(res))
	type key struct {
		typ  kmsg.ConfigResourceType
		name string
	}
	seen := map[key]int{}
	for i, rr := range res {
		k := key{rr.typ, rr.name}
		if j, ok := seen[k]; ok {
			dup := apiErr(kerr.InvalidRequest, "Each resource must appear at most once.")
			out[i], out[j] = dup, dup
			continue
		}
		seen[k] = i
	}
	for i, rr := range res {
		if out[i] != nil {
			continue
		}
		out[i] = s.alterResource(rr, validateOnly)
	}
	return out
}

func (s *Server) alterResource(rr alterResource, validateOnly bool) error {
	if len(slices.Compact(slices.Sorted(slices.Values(rr.keys)))) != len(rr.keys) {
		return apiErr(kerr.InvalidRequest, "Error due to duplicate config keys")
	}
	if len(rr.nulls) > 0 {
		return apiErr(kerr.InvalidRequest, "Null value not supported for : %s", strings.Join(rr.nulls, ", "))
	}
	if rr.err != nil {
		return rr.err
	}
	switch rr.typ {
	case kmsg.ConfigResourceTypeTopic:
		if rr.name == "" {
			return apiErr(kerr.InvalidRequest, "Default topic resources are not allowed.")
		}
		if err := validateTopicName(rr.name); err != nil {
			return err
		}
		return s.alterTopicConfigs(rr, validateOnly)
	case kmsg.ConfigResourceTypeBroker:
		if rr.name != "" {
			id, err := strconv.ParseInt(rr.name, 10, 32)
			if err != nil {
				return apiErr(kerr.InvalidRequest, "Node id must be an integer, but it is: %s", rr.name)
			}
			if n := s.config().NodeID; int32(id) != n {
				return apiErr(kerr.InvalidRequest, "Unexpected broker id, expected %d, but received %s", n, rr.name)
			}
		}
		return s.alterBrokerConfigs(rr, validateOnly)
	case kmsg.ConfigResourceTypeBrokerLogger:
		return apiErr(kerr.InvalidRequest, "Sluice has no log4j loggers: BROKER_LOGGER resources (type %d) are not supported", int8(rr.typ))
	}
	return apiErr(kerr.InvalidRequest, "Unknown resource type %d", int8(rr.typ))
}

// alterTopicConfigs replaces a topic's overrides with those rr.next
// returns, once they validate: Kafka answers INVALID_CONFIG for an unknown
// key or a bad value.
func (s *Server) alterTopicConfigs(rr alterResource, validateOnly bool) error {
	reg := s.parts
	reg.adminMu.Lock()
	defer reg.adminMu.Unlock()
	t := reg.topic(rr.name)
	if t == nil {
		return apiErr(kerr.UnknownTopicOrPartition, "The topic '%s' does not exist.", rr.name)
	}
	b := s.config()
	cur, _ := reg.topicConfig(t)
	over, err := rr.next(b, maps.Clone(cur), true)
	if err == nil {
		err = config.ValidateTopicConfigs(over)
	}
	var cfg config.Topic
	if err == nil {
		cfg, err = b.Topic(over)
	}
	if err != nil {
		return topicConfigErr(err)
	}
	if validateOnly {
		return nil
	}
	if err := s.meta.Append(meta.Record{TopicConfig: &meta.TopicConfig{ID: t.id, Configs: over}}); err != nil {
		return fmt.Errorf("storing configs of topic %s: %w", t.name, err)
	}
	reg.setTopicConfig(t, over, cfg)
	s.log.Info("topic configs changed", "topic", t.name, "configs", config.Redact(over))
	return nil
}

func topicConfigErr(err error) error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return &apiError{code: ke, msg: oneLine(err)}
	}
	return &apiError{code: kerr.InvalidConfig, msg: oneLine(err)}
}

// alterBrokerConfigs replaces one dynamic layer of the broker config (this
// broker's, or the cluster default for the resource "") with what rr.next
// returns, then re-derives every open topic's config, so that a new
// cluster default of log.retention.ms reaches each topic without its own
// retention.ms. As in Kafka (KAFKA-13609) a key that cannot change at run
// time or a bad value is INVALID_REQUEST; an unknown key, which Kafka
// would keep for plugins and Sluice refuses, is INVALID_CONFIG.
func (s *Server) alterBrokerConfigs(rr alterResource, validateOnly bool) error {
	reg := s.parts
	reg.adminMu.Lock()
	defer reg.adminMu.Unlock()
	b := s.config()
	per, def := b.Dynamic()
	layer := per
	if rr.name == "" {
		layer = def
	}
	next, err := rr.next(b, maps.Clone(layer), false)
	if err != nil {
		return brokerConfigErr(err)
	}
	if rr.name == "" {
		def = next
	} else {
		per = next
	}
	nb, err := b.WithDynamic(per, def)
	if err != nil {
		return brokerConfigErr(err)
	}
	for _, k := range slices.Sorted(maps.Keys(next)) {
		if v, had := layer[k]; restartOnly[k] && (!had || v != next[k]) {
			return apiErr(kerr.InvalidRequest, "Cannot update these configs dynamically: %s (Sluice binds and advertises listeners at start; change them in the static config and restart)", k)
		}
	}
	type derived struct {
		t    *topicState
		over map[string]string
		cfg  config.Topic
	}
	var topics []derived
	for _, t := range reg.all() {
		over, _ := reg.topicConfig(t)
		cfg, err := nb.Topic(over)
		if err != nil {
			return apiErr(kerr.InvalidConfig, "the change would make the config of topic %s invalid: %s", t.name, oneLine(err))
		}
		topics = append(topics, derived{t, over, cfg})
	}
	if validateOnly {
		return nil
	}
	if err := s.meta.Append(meta.Record{BrokerConfig: &meta.BrokerConfig{Broker: rr.name, Configs: next}}); err != nil {
		return fmt.Errorf("storing broker configs: %w", err)
	}
	s.cfg.Store(nb)
	for _, d := range topics {
		reg.setTopicConfig(d.t, d.over, d.cfg)
	}
	s.log.Info("broker configs changed", "resource", rr.name, "configs", config.Redact(next))
	return nil
}

func brokerConfigErr(err error) error {
	if errors.Is(err, config.ErrUnknownKey) {
		return &apiError{code: kerr.InvalidConfig, msg: oneLine(err)}
	}
	return &apiError{code: kerr.InvalidRequest, msg: oneLine(err)}
}

// withStoredDynamic returns static with the dynamic broker configs stored
// in the metadata log applied: this node's and the cluster default. A
// stored key that no longer validates (a key an upgrade made read-only, a
// static setting that now conflicts) is skipped with a warning rather than
// keeping the broker from starting, as Kafka's DynamicBrokerConfig does.
func withStoredDynamic(static *config.Broker, store *meta.Store, log *slog.Logger) *config.Broker {
	var per, def map[string]string
	store.View(func(im *meta.Image) {
		per = im.BrokerConfigs(strconv.Itoa(int(static.NodeID)))
		def = im.BrokerConfigs("")
	})
	if len(per)+len(def) == 0 {
		return static
	}
	b, err := static.WithDynamic(per, def)
	if err == nil {
		return b
	}
	log.Warn("stored dynamic broker configs do not validate; skipping the bad keys", "err", oneLine(err))
	keep := func(layer map[string]string, cluster bool) map[string]string {
		out := map[string]string{}
		for k, v := range layer {
			one := map[string]string{k: v}
			var err error
			if cluster {
				_, err = static.WithDynamic(nil, one)
			} else {
				_, err = static.WithDynamic(one, nil)
			}
			if err == nil {
				out[k] = v
			}
		}
		return out
	}
	if b, err = static.WithDynamic(keep(per, false), keep(def, true)); err != nil {
		log.Warn("stored dynamic broker configs ignored", "err", oneLine(err))
		return static
	}
	return b
}
