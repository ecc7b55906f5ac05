package cli

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Sentinel errors of the groups commands.
var (
	// ErrUnknownGroup marks a consumer group the cluster does not know.
	ErrUnknownGroup = errors.New("no such consumer group")
	// ErrGroupActive marks a change refused because the group has
	// members; Kafka only lets offsets be reset or groups be deleted when
	// no consumer is running.
	ErrGroupActive = errors.New("the group has running consumers")
	// ErrNoCommittedOffset marks a --shift-by on a partition the group
	// never committed, which has nothing to shift from.
	ErrNoCommittedOffset = errors.New("no committed offset")
	// ErrBadResetFile marks a reset-offsets --from-file CSV with a bad
	// line; it is a usage error, and nothing is reset when it occurs.
	ErrBadResetFile = fmt.Errorf("%w: bad --from-file", ErrUsage)
)

// groupStates are the group states Kafka reports, canonically spelled;
// --state matches them case-insensitively as kafka-consumer-groups does.
var groupStates = []string{"Empty", "Stable", "PreparingRebalance", "CompletingRebalance", "Dead", "Assigning", "Reconciling", "NotReady"}

// openAdminFor is openAdmin for a command that needs the cluster to serve
// apis: a cluster that lacks one is told apart from kgo's "broker is too
// old" by requireAPIs.
func (a *app) openAdminFor(cmd *cobra.Command, apis ...kmsg.Key) (*kadm.Client, context.Context, func(), error) {
	adm, ctx, done, err := a.openAdmin(cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := a.requireAPIs(ctx, adm, apis...); err != nil {
		done()
		return nil, nil, nil, err
	}
	return adm, ctx, done, nil
}

// requireAPIs fails with ErrUnsupported, naming the missing requests, when
// a broker of the cluster does not serve one of keys: without it kgo fails
// deep inside the command with "broker is too old".
func (a *app) requireAPIs(ctx context.Context, adm *kadm.Client, keys ...kmsg.Key) error {
	vs, err := adm.ApiVersions(ctx)
	if err != nil {
		return a.explain(fmt.Errorf("asking the cluster which requests it serves: %w", err))
	}
	var missing []string
	for _, v := range vs.Sorted() {
		if v.Err != nil {
			continue
		}
		for _, k := range keys {
			if _, ok := v.KeyMaxVersion(k.Int16()); !ok && !slices.Contains(missing, k.Name()) {
				missing = append(missing, k.Name())
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the cluster does not serve %s, which this command needs (%w); run it against brokers that do (Kafka 2.4+ for groups, 3.0+ for transactions, or a Sluice broker): %w",
			strings.Join(missing, ", "), ErrUnsupported, kerr.UnsupportedVersion)
	}
	return nil
}

func (a *app) groupsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "List, describe, delete consumer groups and reset their offsets (like kafka-consumer-groups)",
	}
	cmd.AddCommand(a.groupsListCmd(), a.groupsDescribeCmd(), a.groupsDeleteCmd(), a.groupsResetCmd(), a.groupsDeleteOffsetsCmd())
	return cmd
}

// listedGroup is the JSON shape of `groups list`.
type listedGroup struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
}

// canonicalStates validates --state values, which may be comma lists, and
// returns them in Kafka's spelling.
func canonicalStates(vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		for _, s := range splitList(v) {
			i := slices.IndexFunc(groupStates, func(g string) bool { return strings.EqualFold(g, s) })
			if i < 0 {
				return nil, fmt.Errorf("%w: --state %q: use one of %s", ErrUsage, s, strings.Join(groupStates, ", "))
			}
			out = append(out, groupStates[i])
		}
	}
	return out, nil
}

func (a *app) groupsListCmd() *cobra.Command {
	var (
		states []string
		output string
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List consumer groups with their state and protocol type",
		Example: `  sluice groups list
  sluice groups list --state Empty,Dead`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			want, err := canonicalStates(states)
			if err != nil {
				return err
			}
			adm, ctx, done, err := a.openAdminFor(cmd, kmsg.ListGroups)
			if err != nil {
				return err
			}
			defer done()
			lgs, err := adm.ListGroups(ctx, want...)
			if err != nil {
				return a.explain(fmt.Errorf("listing groups: %w", err))
			}
			infos := []listedGroup{}
			for _, g := range lgs.Sorted() {
				// Filter here too: brokers before Kafka 2.6 ignore the filter.
				if len(want) > 0 && !slices.Contains(want, g.State) {
					continue
				}
				infos = append(infos, listedGroup{Group: g.Group, State: g.State, ProtocolType: g.ProtocolType})
			}
			if output == outputJSON {
				return writeJSON(cmd.OutOrStdout(), infos)
			}
			t := newTable(cmd.OutOrStdout(), "GROUP", "STATE", "PROTOCOL-TYPE")
			for _, g := range infos {
				t.row(g.Group, orDash(g.State), orDash(g.ProtocolType))
			}
			return t.flush()
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only groups in these states (comma-separated or repeated): "+strings.Join(groupStates, ", "))
	addOutputFlag(cmd, &output)
	return cmd
}

// groupDescription is the JSON shape of `groups describe`: the group, its
// members and, per partition it owns or has committed, the offsets and lag.
type groupDescription struct {
	Group              string       `json:"group"`
	State              string       `json:"state"`
	ProtocolType       string       `json:"protocol_type"`
	AssignmentStrategy string       `json:"assignment_strategy"`
	Coordinator        string       `json:"coordinator"`
	CoordinatorID      int32        `json:"coordinator_id"`
	Members            []memberInfo `json:"members"`
	Offsets            []offsetRow  `json:"offsets"`
}

type memberInfo struct {
	MemberID   string            `json:"member_id"`
	InstanceID string            `json:"instance_id,omitempty"`
	ClientID   string            `json:"client_id"`
	Host       string            `json:"host"`
	Assignment []topicPartitions `json:"assignment"`
}

type topicPartitions struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

// offsetRow is one partition of a described group. Committed, LogEnd and
// Lag are null when unknown (no commit; the partition could not be
// listed), which the table prints as "-", as Kafka's tool does.
type offsetRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed *int64 `json:"committed"`
	LogEnd    *int64 `json:"log_end"`
	Lag       *int64 `json:"lag"`
	MemberID  string `json:"member_id,omitempty"`
	Host      string `json:"host,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
}

// describeGroup gathers one group's state, members, committed offsets and
// log end offsets. A group the coordinator reports as Dead or not found
// gives ErrUnknownGroup.
func (a *app) describeGroup(ctx context.Context, adm *kadm.Client, group string) (groupDescription, error) {
	dgs, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return groupDescription{}, a.explain(fmt.Errorf("describing group %q: %w", group, err))
	}
	dg, err := dgs.On(group, nil)
	switch {
	case err != nil:
		return groupDescription{}, fmt.Errorf("describing group %q: no answer from the broker: %w", group, err)
	case errors.Is(dg.Err, kerr.GroupIDNotFound), dg.Err == nil && dg.State == "Dead":
		return groupDescription{}, unknownGroup(group, dg.Err)
	case dg.Err != nil:
		return groupDescription{}, fmt.Errorf("describing group %q: %w", group, kafkaErr(dg.Err, dg.ErrMessage))
	}
	d := groupDescription{
		Group: group, State: dg.State, ProtocolType: dg.ProtocolType, AssignmentStrategy: dg.Protocol,
		Coordinator: fmt.Sprintf("%s:%d", dg.Coordinator.Host, dg.Coordinator.Port), CoordinatorID: dg.Coordinator.NodeID,
		Members: []memberInfo{}, Offsets: []offsetRow{},
	}
	type tp struct {
		t string
		p int32
	}
	rows := map[tp]*offsetRow{}
	for _, m := range dg.Members {
		mi := memberInfo{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assignment: []topicPartitions{}}
		if m.InstanceID != nil {
			mi.InstanceID = *m.InstanceID
		}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				ps := slices.Sorted(slices.Values(t.Partitions))
				mi.Assignment = append(mi.Assignment, topicPartitions{Topic: t.Topic, Partitions: ps})
				for _, p := range ps {
					rows[tp{t.Topic, p}] = &offsetRow{Topic: t.Topic, Partition: p, MemberID: m.MemberID, Host: m.ClientHost, ClientID: m.ClientID}
				}
			}
			slices.SortFunc(mi.Assignment, func(x, y topicPartitions) int { return strings.Compare(x.Topic, y.Topic) })
		}
		d.Members = append(d.Members, mi)
	}
	commits, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return d, a.explain(fmt.Errorf("fetching the committed offsets of group %q: %w", group, err))
	}
	commits.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil || o.At < 0 {
			return
		}
		r := rows[tp{o.Topic, o.Partition}]
		if r == nil {
			r = &offsetRow{Topic: o.Topic, Partition: o.Partition}
			rows[tp{o.Topic, o.Partition}] = r
		}
		r.Committed = ptr(o.At)
	})
	var topics []string
	for k := range rows {
		if !slices.Contains(topics, k.t) {
			topics = append(topics, k.t)
		}
	}
	if len(topics) > 0 {
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil && ends == nil {
			return d, a.explain(fmt.Errorf("listing the log end offsets of group %q's topics: %w", group, err))
		}
		for k, r := range rows {
			if e, ok := ends.Lookup(k.t, k.p); ok && e.Err == nil && e.Offset >= 0 {
				r.LogEnd = ptr(e.Offset)
				if r.Committed != nil {
					r.Lag = ptr(e.Offset - *r.Committed)
				}
			}
		}
	}
	for _, r := range rows {
		d.Offsets = append(d.Offsets, *r)
	}
	slices.SortFunc(d.Offsets, func(x, y offsetRow) int {
		if c := strings.Compare(x.Topic, y.Topic); c != 0 {
			return c
		}
		return int(x.Partition) - int(y.Partition)
	})
	return d, nil
}

func unknownGroup(group string, cause error) error {
	if cause == nil {
		cause = kerr.GroupIDNotFound
	}
	return fmt.Errorf("%w %q; see the groups there are with `sluice groups list`: %w", ErrUnknownGroup, group, cause)
}

func ptr[T any](v T) *T { return &v }

// orDash prints an empty value as "-", as Kafka's tools do.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func int64OrDash(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}

func (a *app) groupsDescribeCmd() *cobra.Command {
	var (
		members, state, offsets bool
		output                  string
	)
	cmd := &cobra.Command{
		Use:   "describe GROUP...",
		Short: "Show a group's members, committed offsets, log end offsets and lag",
		Long: `Show, per partition the group owns or has committed, the committed offset
(CURRENT-OFFSET), the partition's log end offset (high watermark), the lag
between them and the member that owns it, like kafka-consumer-groups
--describe. --members lists the members with their assignment instead, and
--state the group's state, coordinator and assignment strategy.`,
		Example: `  sluice groups describe orders-service
  sluice groups describe orders-service --members
  sluice groups describe orders-service billing --state -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			adm, ctx, done, err := a.openAdminFor(cmd, kmsg.DescribeGroups, kmsg.OffsetFetch, kmsg.ListOffsets)
			if err != nil {
				return err
			}
			defer done()
			var (
				descs []groupDescription
				errs  []error
			)
			for _, g := range args {
				d, err := a.describeGroup(ctx, adm, g)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				descs = append(descs, d)
			}
			if output == outputJSON {
				if descs == nil {
					descs = []groupDescription{}
				}
				if err := writeJSON(cmd.OutOrStdout(), descs); err != nil {
					return err
				}
				return errors.Join(errs...)
			}
			w := cmd.OutOrStdout()
			for i, d := range descs {
				if i > 0 {
					fmt.Fprintln(w)
				}
				if len(d.Members) == 0 && !state {
					fmt.Fprintf(cmd.ErrOrStderr(), "Consumer group '%s' has no active members.\n", d.Group)
				}
				var err error
				switch {
				case members:
					err = printMembers(w, d)
				case state:
					t := newTable(w, "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS")
					t.row(d.Group, fmt.Sprintf("%s (%d)", d.Coordinator, d.CoordinatorID), orDash(d.AssignmentStrategy), d.State, strconv.Itoa(len(d.Members)))
					err = t.flush()
				default:
					t := newTable(w, "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
					for _, r := range d.Offsets {
						t.row(d.Group, r.Topic, strconv.Itoa(int(r.Partition)), int64OrDash(r.Committed), int64OrDash(r.LogEnd), int64OrDash(r.Lag),
							orDash(r.MemberID), orDash(r.Host), orDash(r.ClientID))
					}
					err = t.flush()
				}
				if err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&offsets, "offsets", false, "show offsets and lag per partition (the default view)")
	f.BoolVar(&members, "members", false, "show members with their assignment")
	f.BoolVar(&state, "state", false, "show state, coordinator and assignment strategy")
	cmd.MarkFlagsMutuallyExclusive("offsets", "members", "state")
	addOutputFlag(cmd, &output)
	return cmd
}

func printMembers(w interface{ Write([]byte) (int, error) }, d groupDescription) error {
	t := newTable(w, "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT")
	for _, m := range d.Members {
		n := 0
		var as []string
		for _, tp := range m.Assignment {
			n += len(tp.Partitions)
			as = append(as, tp.Topic+"("+joinInt32(tp.Partitions)+")")
		}
		t.row(d.Group, m.MemberID, orDash(m.Host), orDash(m.ClientID), strconv.Itoa(n), orDash(strings.Join(as, ",")))
	}
	return t.flush()
}

// groupResult is one line of a groups delete report.
type groupResult struct {
	Group  string `json:"group"`
	Status string `json:"status"`
}

func (a *app) groupsDeleteCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete consumer groups and their committed offsets",
		Long: `Delete groups with their committed offsets. As in Kafka, only a group with no
running consumers (state Empty) can be deleted.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			adm, ctx, done, err := a.openAdminFor(cmd, kmsg.DeleteGroups)
			if err != nil {
				return err
			}
			defer done()
			resps, err := adm.DeleteGroups(ctx, args...)
			if err != nil && resps == nil {
				return a.explain(fmt.Errorf("deleting groups: %w", err))
			}
			var (
				results []groupResult
				errs    []error
			)
			for _, g := range args {
				r, ok := resps[g]
				switch {
				case !ok:
					errs = append(errs, fmt.Errorf("deleting group %q: no answer from the broker: %w", g, err))
				case errors.Is(r.Err, kerr.GroupIDNotFound):
					errs = append(errs, unknownGroup(g, r.Err))
				case errors.Is(r.Err, kerr.NonEmptyGroup):
					errs = append(errs, fmt.Errorf("cannot delete group %q: %w; stop them first (`sluice groups describe %s --members` lists them): %w", g, ErrGroupActive, g, r.Err))
				case r.Err != nil:
					errs = append(errs, fmt.Errorf("deleting group %q: %w", g, kafkaErr(r.Err, r.ErrMessage)))
				default:
					results = append(results, groupResult{g, "deleted"})
				}
			}
			if output == outputJSON {
				if results == nil {
					results = []groupResult{}
				}
				if err := writeJSON(cmd.OutOrStdout(), results); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					fmt.Fprintf(cmd.OutOrStdout(), "Deleted group %s.\n", r.Group)
				}
			}
			return errors.Join(errs...)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// parseTopicSpec parses kafka-consumer-groups' --topic value: "orders"
// for every partition, or "orders:0,2" for some.
func parseTopicSpec(s string) (string, []int32, error) {
	topic, parts, hasParts := strings.Cut(s, ":")
	if err := validateTopicName(topic); err != nil {
		return "", nil, fmt.Errorf("--topic %q: %w", s, err)
	}
	if !hasParts {
		return topic, nil, nil
	}
	var ps []int32
	for _, p := range strings.Split(parts, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		if err != nil || n < 0 {
			return "", nil, fmt.Errorf("%w: --topic %q: %q is not a partition number; want TOPIC or TOPIC:0,1,2", ErrUsage, s, p)
		}
		ps = append(ps, int32(n))
	}
	return topic, ps, nil
}

// resolvePartitions turns --topic specs into the set of partitions they
// name, checking with the cluster that the topics and partitions exist.
func (a *app) resolvePartitions(ctx context.Context, adm *kadm.Client, specs []string) (kadm.TopicsSet, error) {
	want := map[string][]int32{}
	var names []string
	for _, s := range specs {
		t, ps, err := parseTopicSpec(s)
		if err != nil {
			return nil, err
		}
		if _, ok := want[t]; !ok {
			names = append(names, t)
		}
		if ps == nil {
			want[t] = nil
		} else if cur, ok := want[t]; !ok || cur != nil {
			want[t] = append(cur, ps...)
		}
	}
	tds, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, a.explain(fmt.Errorf("looking up topics: %w", err))
	}
	set := kadm.TopicsSet{}
	for _, t := range names {
		td, ok := tds[t]
		if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("topic %q does not exist; see the topics there are with `sluice topics list`: %w", t, kerr.UnknownTopicOrPartition)
		}
		if td.Err != nil {
			return nil, fmt.Errorf("looking up topic %q: %w", t, td.Err)
		}
		ps := want[t]
		if ps == nil {
			ps = td.Partitions.Numbers()
		}
		for _, p := range ps {
			if _, ok := td.Partitions[p]; !ok {
				return nil, fmt.Errorf("%w: topic %q has partitions 0-%d, not %d", ErrUsage, t, len(td.Partitions)-1, p)
			}
		}
		set.Add(t, ps...)
	}
	return set, nil
}

// resetMode is how reset-offsets picks each partition's new offset.
type resetMode struct {
	flag     string // the flag that chose it, for messages
	offset   int64  // --to-offset, --shift-by
	datetime int64  // --to-datetime, in Unix milliseconds
	// --from-file: the file's name, for messages, and its lines.
	fileName string
	file     []fileOffset
}

// isoDuration is Java's Duration text as kafka-consumer-groups takes it for
// --by-duration: PnDTnHnMnS with optional parts and fractional seconds.
var isoDuration = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// parseResetDuration parses --by-duration: Kafka's PnDTnHnMnS (e.g. P1DT2H,
// PT30M) or a Go duration (e.g. 1h30m). It must be positive.
func parseResetDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%w: --by-duration %q: want a positive duration such as PT1H, P1DT12H, PT30M15S or 1h30m", ErrUsage, s)
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return 0, bad
		}
		return d, nil
	}
	m := isoDuration.FindStringSubmatch(strings.ToUpper(s))
	if m == nil || s == "P" || strings.HasSuffix(strings.ToUpper(s), "T") {
		return 0, bad
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] != "" {
			n, err := strconv.ParseInt(m[i+1], 10, 64)
			if err != nil {
				return 0, bad
			}
			d += time.Duration(n) * unit
		}
	}
	if m[4] != "" {
		sec, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			return 0, bad
		}
		d += time.Duration(sec * float64(time.Second))
	}
	if d <= 0 {
		return 0, bad
	}
	return d, nil
}

// parseDatetime parses --to-datetime as kafka-consumer-groups does:
// YYYY-MM-DDTHH:mm:SS with optional fractional seconds and an optional
// zone (Z, ±hh:mm, ±hhmm or ±hh); without a zone the local one applies.
func parseDatetime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05Z07"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	// Go accepts fractional seconds after the seconds field in any layout.
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: --to-datetime %q: want YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm], e.g. 2026-01-02T03:04:05.000Z (no zone: local time)", ErrUsage, s)
}

// resetPlan is the JSON shape of reset-offsets: the offsets it would
// commit (dry run) or committed.
type resetPlan struct {
	Group    string     `json:"group"`
	Executed bool       `json:"executed"`
	Offsets  []resetRow `json:"offsets"`
}

type resetRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   *int64 `json:"current"`
	New       int64  `json:"new"`
}

// clamp keeps o within [start, end], the log's range, as Kafka's tool does
// so a reset never points before retained data or past the end.
func clamp(o, start, end int64) int64 {
	return max(start, min(o, end))
}

func (a *app) groupsResetCmd() *cobra.Command {
	var (
		group                string
		topics               []string
		allTopics            bool
		toEarliest, toLatest bool
		toOffset, shiftBy    int64
		toDatetime           string
		byDuration           string
		toCurrent            bool
		dryRun, execute      bool
		export               bool
		fromFile             string
		output               string
	)
	cmd := &cobra.Command{
		Use:   "reset-offsets --group GROUP ((--topic T[:p,...]... | --all-topics) MODE | --from-file FILE) [--execute] [--export]",
		Short: "Move a stopped group's committed offsets (dry run unless --execute)",
		Long: `Compute new committed offsets for the partitions named by --topic (all of a
topic's partitions, or TOPIC:0,1 for some) or --all-topics (every
partition the group has committed), using exactly one mode:

  --to-earliest         the log start offset
  --to-latest           the log end offset
  --to-offset N         offset N
  --to-datetime T       the first offset with a timestamp at or after T,
                        YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm] (no zone: local)
  --by-duration D       the first offset with a timestamp at or after now
                        minus D (PnDTnHnMnS as Kafka, or Go's 1h30m)
  --shift-by N          the committed offset plus N (negative moves back)
  --to-current          the committed offset (the log end where none is)
  --from-file FILE      the offsets FILE lists ("-": stdin), as --export
                        writes them; the file names the partitions, so
                        --topic and --all-topics are not given

New offsets are kept within the partition's log range. Without --execute
only the plan is printed (current and new offset per partition); with it the
offsets are committed. --export prints the plan instead as Kafka's CSV, one
topic,partition,new-offset line per partition, for --from-file to apply
later. --from-file also reads Kafka's group,topic,partition,offset form,
using the lines of --group. A file with any bad line (wrong column count,
non-numeric offset, unknown topic or partition) resets nothing. As in Kafka,
the group must have no running consumers (state Empty, or not exist yet).`,
		Example: `  sluice groups reset-offsets --group billing --topic orders --to-earliest
  sluice groups reset-offsets --group billing --topic orders:0,1 --shift-by -100 --execute
  sluice groups reset-offsets --group billing --all-topics --to-datetime 2026-01-02T03:04:05Z --execute
  sluice groups reset-offsets --group billing --all-topics --to-current --export > billing.csv
  sluice groups reset-offsets --group billing --from-file billing.csv --execute`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if group == "" {
				return fmt.Errorf("%w: name the group with --group", ErrUsage)
			}
			if export && output == outputJSON {
				return fmt.Errorf("%w: --export prints CSV; drop -o json", ErrUsage)
			}
			switch fileMode := cmd.Flags().Changed("from-file"); {
			case fileMode && (len(topics) > 0 || allTopics):
				return fmt.Errorf("%w: --from-file names the partitions itself; drop --topic and --all-topics", ErrUsage)
			case !fileMode && len(topics) == 0 == !allTopics:
				return fmt.Errorf("%w: name the partitions with --topic TOPIC[:p,...] (repeatable) or --all-topics, not both", ErrUsage)
			}
			if dryRun && execute {
				return fmt.Errorf("%w: --dry-run and --execute contradict each other", ErrUsage)
			}
			var modes []string
			for _, m := range []string{"to-earliest", "to-latest", "to-offset", "to-datetime", "by-duration", "shift-by", "to-current", "from-file"} {
				if cmd.Flags().Changed(m) {
					modes = append(modes, m)
				}
			}
			if len(modes) != 1 {
				return fmt.Errorf("%w: choose exactly one way to reset: --to-earliest, --to-latest, --to-offset N, --to-datetime YYYY-MM-DDTHH:mm:SS, --by-duration PnDTnHnMnS, --shift-by N, --to-current or --from-file FILE", ErrUsage)
			}
			mode := resetMode{flag: modes[0], offset: toOffset}
			switch mode.flag {
			case "shift-by":
				mode.offset = shiftBy
			case "to-datetime":
				t, err := parseDatetime(toDatetime)
				if err != nil {
					return err
				}
				mode.datetime = t.UnixMilli()
			case "by-duration":
				d, err := parseResetDuration(byDuration)
				if err != nil {
					return err
				}
				// The same lookup as --to-datetime, from now minus d.
				mode.flag, mode.datetime = "to-datetime", time.Now().Add(-d).UnixMilli()
			case "from-file":
				// The whole file is checked before the cluster is asked
				// anything, so a malformed one fails fast.
				rows, err := readResetFile(cmd, fromFile, group)
				if err != nil {
					return err
				}
				mode.fileName, mode.file = fromFile, rows
			}
			adm, ctx, done, err := a.openAdminFor(cmd, kmsg.DescribeGroups, kmsg.OffsetFetch, kmsg.OffsetCommit, kmsg.ListOffsets)
			if err != nil {
				return err
			}
			defer done()
			plan, err := a.planReset(ctx, adm, group, topics, allTopics, mode)
			if err != nil {
				return err
			}
			if execute {
				if err := commitPlan(ctx, adm, plan); err != nil {
					return a.explain(err)
				}
				plan.Executed = true
			}
			switch {
			case output == outputJSON:
				return writeJSON(cmd.OutOrStdout(), plan)
			case export:
				if err := writeResetCSV(cmd.OutOrStdout(), plan); err != nil {
					return err
				}
			default:
				t := newTable(cmd.OutOrStdout(), "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET")
				for _, r := range plan.Offsets {
					t.row(group, r.Topic, strconv.Itoa(int(r.Partition)), int64OrDash(r.Current), strconv.FormatInt(r.New, 10))
				}
				if err := t.flush(); err != nil {
					return err
				}
			}
			if execute {
				fmt.Fprintf(cmd.ErrOrStderr(), "Committed the new offsets of group %s.\n", group)
			} else {
				fmt.Fprintln(cmd.ErrOrStderr(), "Dry run: nothing was committed; add --execute to commit these offsets.")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&group, "group", "g", "", "the consumer group (required)")
	f.StringArrayVar(&topics, "topic", nil, "TOPIC or TOPIC:p,p,... to reset (repeatable)")
	f.BoolVar(&allTopics, "all-topics", false, "reset every partition the group has committed")
	f.BoolVar(&toEarliest, "to-earliest", false, "reset to the log start offset")
	f.BoolVar(&toLatest, "to-latest", false, "reset to the log end offset")
	f.Int64Var(&toOffset, "to-offset", 0, "reset to this offset")
	f.StringVar(&toDatetime, "to-datetime", "", "reset to the first offset at or after YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm]")
	f.Int64Var(&shiftBy, "shift-by", 0, "move the committed offset by N (negative: back)")
	f.StringVar(&byDuration, "by-duration", "", "reset to the first offset at or after now minus this duration (PnDTnHnMnS or 1h30m)")
	f.BoolVar(&toCurrent, "to-current", false, "reset to the committed offset (the log end where there is none)")
	f.StringVar(&fromFile, "from-file", "", "reset to the offsets a CSV file lists (topic,partition,offset lines, as --export writes; - is stdin)")
	f.BoolVar(&export, "export", false, "print the plan as CSV (topic,partition,new-offset) for --from-file")
	f.BoolVar(&dryRun, "dry-run", false, "only print the plan (the default)")
	f.BoolVar(&execute, "execute", false, "commit the new offsets")
	addOutputFlag(cmd, &output)
	return cmd
}

// planReset checks the group is inactive and computes the new offset of
// every partition to reset.
func (a *app) planReset(ctx context.Context, adm *kadm.Client, group string, topics []string, allTopics bool, mode resetMode) (resetPlan, error) {
	plan := resetPlan{Group: group, Offsets: []resetRow{}}
	d, err := a.describeGroup(ctx, adm, group)
	switch {
	case errors.Is(err, ErrUnknownGroup):
		// Kafka lets offsets be set for a group that does not exist yet.
	case err != nil:
		return plan, err
	case d.State != "Empty":
		return plan, fmt.Errorf("cannot reset offsets of group %q: its state is %s, and offsets can only be reset while it is inactive (%w); stop its %d consumer(s) first (`sluice groups describe %s --members` lists them)",
			group, d.State, ErrGroupActive, len(d.Members), group)
	}
	commits, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		// Kafka answers a new group with no offsets; some brokers
		// (kfake) with this error. Both mean nothing is committed.
		commits, err = nil, nil
	}
	if err != nil {
		return plan, a.explain(fmt.Errorf("fetching the committed offsets of group %q: %w", group, err))
	}
	var set kadm.TopicsSet
	if allTopics {
		set = kadm.TopicsSet{}
		commits.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				set.Add(o.Topic, o.Partition)
			}
		})
		if len(set) == 0 {
			return plan, fmt.Errorf("%w: group %q has no committed offsets, so --all-topics names nothing; name the partitions with --topic", ErrUsage, group)
		}
	} else if mode.flag == "from-file" {
		if set, err = a.resolveFilePartitions(ctx, adm, mode.fileName, mode.file); err != nil {
			return plan, err
		}
	} else if set, err = a.resolvePartitions(ctx, adm, topics); err != nil {
		return plan, err
	}
	fileOffsets := map[string]map[int32]int64{}
	for _, r := range mode.file {
		if fileOffsets[r.topic] == nil {
			fileOffsets[r.topic] = map[int32]int64{}
		}
		fileOffsets[r.topic][r.partition] = r.offset
	}
	names := set.Topics()
	starts, err := adm.ListStartOffsets(ctx, names...)
	if err != nil && starts == nil {
		return plan, a.explain(fmt.Errorf("listing start offsets: %w", err))
	}
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil && ends == nil {
		return plan, a.explain(fmt.Errorf("listing end offsets: %w", err))
	}
	var times kadm.ListedOffsets
	if mode.flag == "to-datetime" {
		if times, err = adm.ListOffsetsAfterMilli(ctx, mode.datetime, names...); err != nil && times == nil {
			return plan, a.explain(fmt.Errorf("listing offsets by time: %w", err))
		}
	}
	var errs []error
	for _, tp := range set.Sorted() {
		for _, p := range tp.Partitions {
			s, sok := starts.Lookup(tp.Topic, p)
			e, eok := ends.Lookup(tp.Topic, p)
			if !sok || !eok || s.Err != nil || e.Err != nil {
				errs = append(errs, fmt.Errorf("partition %s-%d: cannot read its log range (start: %v, end: %v); does the topic still exist?", tp.Topic, p, s.Err, e.Err))
				continue
			}
			row := resetRow{Topic: tp.Topic, Partition: p}
			if c, ok := commits.Lookup(tp.Topic, p); ok && c.Err == nil && c.At >= 0 {
				row.Current = ptr(c.At)
			}
			switch mode.flag {
			case "to-earliest":
				row.New = s.Offset
			case "to-latest":
				row.New = e.Offset
			case "to-offset":
				row.New = mode.offset
			case "shift-by":
				if row.Current == nil {
					errs = append(errs, fmt.Errorf("%w for partition %s-%d of group %q: cannot shift it; use --to-offset, --to-earliest or --to-latest for it", ErrNoCommittedOffset, tp.Topic, p, group))
					continue
				}
				row.New = *row.Current + mode.offset
			case "to-current":
				row.New = e.Offset // nothing committed: the end, as Kafka does
				if row.Current != nil {
					row.New = *row.Current
				}
			case "from-file":
				row.New = fileOffsets[tp.Topic][p]
			case "to-datetime":
				row.New = e.Offset // no record at or after the time: the end
				if o, ok := times.Lookup(tp.Topic, p); ok && o.Err == nil && o.Offset >= 0 {
					row.New = o.Offset
				}
			}
			row.New = clamp(row.New, s.Offset, e.Offset)
			plan.Offsets = append(plan.Offsets, row)
		}
	}
	return plan, errors.Join(errs...)
}

// commitPlan commits the planned offsets. A consumer that joined since the
// plan was made shows up as a per-partition member or generation error.
func commitPlan(ctx context.Context, adm *kadm.Client, plan resetPlan) error {
	os := kadm.Offsets{}
	for _, r := range plan.Offsets {
		os.Add(kadm.Offset{Topic: r.Topic, Partition: r.Partition, At: r.New, LeaderEpoch: -1})
	}
	resps, err := adm.CommitOffsets(ctx, plan.Group, os)
	if err != nil {
		return fmt.Errorf("committing offsets of group %q: %w", plan.Group, err)
	}
	var errs []error
	resps.EachError(func(o kadm.OffsetResponse) {
		if errors.Is(o.Err, kerr.UnknownMemberID) || errors.Is(o.Err, kerr.IllegalGeneration) || errors.Is(o.Err, kerr.RebalanceInProgress) {
			errs = append(errs, fmt.Errorf("cannot commit %s-%d for group %q: %w (one joined during the reset); stop it and retry: %w", o.Topic, o.Partition, plan.Group, ErrGroupActive, o.Err))
			return
		}
		errs = append(errs, fmt.Errorf("committing %s-%d for group %q: %w", o.Topic, o.Partition, plan.Group, o.Err))
	})
	return errors.Join(errs...)
}

// deleteOffsetRow is one line of a delete-offsets report.
type deleteOffsetRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Status    string `json:"status"`
}

func (a *app) groupsDeleteOffsetsCmd() *cobra.Command {
	var (
		group  string
		topics []string
		output string
	)
	cmd := &cobra.Command{
		Use:   "delete-offsets --group GROUP --topic T[:p,...]...",
		Short: "Delete a group's committed offsets for some topics or partitions",
		Long: `Delete committed offsets of a group (OffsetDelete, Kafka 2.4+), e.g. for a
topic the group no longer reads, so its lag stops being reported. The
broker refuses partitions of topics the group's running consumers are
subscribed to.`,
		Example: `  sluice groups delete-offsets --group billing --topic old-orders
  sluice groups delete-offsets --group billing --topic orders:0,1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if group == "" || len(topics) == 0 {
				return fmt.Errorf("%w: give --group GROUP and at least one --topic TOPIC[:p,...]", ErrUsage)
			}
			adm, ctx, done, err := a.openAdminFor(cmd, kmsg.OffsetDelete)
			if err != nil {
				return err
			}
			defer done()
			set, err := a.resolvePartitions(ctx, adm, topics)
			if err != nil {
				return err
			}
			resps, err := adm.DeleteOffsets(ctx, group, set)
			switch {
			case errors.Is(err, kerr.GroupIDNotFound):
				return unknownGroup(group, err)
			case errors.Is(err, kerr.NonEmptyGroup):
				return fmt.Errorf("cannot delete offsets of group %q: %w; stop them first: %w", group, ErrGroupActive, err)
			case err != nil:
				return a.explain(fmt.Errorf("deleting offsets of group %q: %w", group, err))
			}
			rows := []deleteOffsetRow{}
			var errs []error
			for _, tp := range set.Sorted() {
				for _, p := range tp.Partitions {
					status := "deleted"
					perr, ok := resps.Lookup(tp.Topic, p)
					switch {
					case !ok:
						status = "no answer"
						errs = append(errs, fmt.Errorf("deleting offset %s-%d of group %q: no answer from the broker", tp.Topic, p, group))
					case errors.Is(perr, kerr.GroupSubscribedToTopic):
						status = "refused: " + perr.Error()
						errs = append(errs, fmt.Errorf("cannot delete offsets of %s-%d for group %q: %w, subscribed to %q; stop them first: %w", tp.Topic, p, group, ErrGroupActive, tp.Topic, perr))
					case perr != nil:
						status = "error: " + perr.Error()
						errs = append(errs, fmt.Errorf("deleting offset %s-%d of group %q: %w", tp.Topic, p, group, perr))
					}
					rows = append(rows, deleteOffsetRow{Topic: tp.Topic, Partition: p, Status: status})
				}
			}
			if output == outputJSON {
				if err := writeJSON(cmd.OutOrStdout(), rows); err != nil {
					return err
				}
				return errors.Join(errs...)
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITION", "STATUS")
			for _, r := range rows {
				t.row(r.Topic, strconv.Itoa(int(r.Partition)), r.Status)
			}
			if err := t.flush(); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&group, "group", "g", "", "the consumer group (required)")
	f.StringArrayVar(&topics, "topic", nil, "TOPIC or TOPIC:p,p,... whose offsets to delete (repeatable)")
	addOutputFlag(cmd, &output)
	return cmd
}

// fileOffset is one line of a reset-offsets --from-file CSV.
type fileOffset struct {
	line      int // 1-based, for messages
	topic     string
	partition int32
	offset    int64
}

// The reset-plan CSV is kafka-consumer-groups' --export format, read back
// by --from-file, with no header, no quoting needed (topic names cannot hold
// a comma or quote) and one line per partition:
//
//	topic,partition,offset             the single-group form (one --group)
//	group,topic,partition,offset       the multi-group form (--all-groups)
//
// reset-offsets takes exactly one --group, so --export always writes the
// single-group form, as Kafka does for one --group. --from-file reads both;
// as Kafka does, lines of the multi-group form naming another group are
// skipped.
const (
	csvColsSingle = 3
	csvColsMulti  = 4
)

// writeResetCSV writes plan in the single-group export form. Kafka prints
// its CSV with println after each record's own line break, so its output
// ends with an empty line; so does this, so that the two diff clean.
func writeResetCSV(w io.Writer, plan resetPlan) error {
	cw := csv.NewWriter(w)
	for _, r := range plan.Offsets {
		if err := cw.Write([]string{r.Topic, strconv.Itoa(int(r.Partition)), strconv.FormatInt(r.New, 10)}); err != nil {
			return fmt.Errorf("writing the reset plan: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing the reset plan: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("writing the reset plan: %w", err)
	}
	return nil
}

// readResetFile reads --from-file ("-" is stdin) and parses it with
// parseResetCSV.
func readResetFile(cmd *cobra.Command, name, group string) ([]fileOffset, error) {
	var r io.Reader = cmd.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadResetFile, err)
		}
		defer f.Close()
		r = f
	}
	return parseResetCSV(r, name, group)
}

// parseResetCSV parses a reset plan (see csvColsSingle) for group. It
// checks every line before any is used and reports all bad ones with
// their line numbers, so that a bad file resets nothing. Offsets must be
// non-negative, as Kafka's OffsetAndMetadata requires; they are clamped
// to the log range later, as in the other modes. Blank lines are skipped
// (Kafka's export ends with one).
func parseResetCSV(r io.Reader, name, group string) ([]fileOffset, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked here, to name the line and the form
	var (
		rows  []fileOffset
		errs  []error
		cols  int
		other int // lines of the multi-group form for another group
		seen  = map[string]map[int32]int{}
	)
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s line %d: %s", ErrBadResetFile, name, line, fmt.Sprintf(format, args...)))
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// A broken quote ends what can be read of the file.
			bad(pe.StartLine, "not CSV: %v", pe.Err)
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: reading %s: %w", ErrBadResetFile, name, err)
		}
		line, _ := cr.FieldPos(0)
		if cols == 0 && (len(rec) == csvColsSingle || len(rec) == csvColsMulti) {
			cols = len(rec)
		}
		if len(rec) != cols {
			want := "3 (topic,partition,offset) or 4 (group,topic,partition,offset)"
			if cols != 0 {
				want = strconv.Itoa(cols) + " as on the first line"
			}
			bad(line, "%d columns, want %s", len(rec), want)
			continue
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if cols == csvColsMulti {
			if rec[0] != group {
				other++
				continue
			}
			rec = rec[1:]
		}
		topic := rec[0]
		if topic == "" {
			bad(line, "empty topic")
			continue
		}
		p, err := strconv.ParseInt(rec[1], 10, 32)
		if err != nil || p < 0 {
			bad(line, "partition %q is not a partition number", rec[1])
			continue
		}
		o, err := strconv.ParseInt(rec[2], 10, 64)
		if err != nil || o < 0 {
			bad(line, "offset %q is not an offset (a whole number, 0 or more)", rec[2])
			continue
		}
		if first, dup := seen[topic][int32(p)]; dup {
			bad(line, "partition %s-%d is also on line %d", topic, p, first)
			continue
		}
		if seen[topic] == nil {
			seen[topic] = map[int32]int{}
		}
		seen[topic][int32(p)] = line
		rows = append(rows, fileOffset{line: line, topic: topic, partition: int32(p), offset: o})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(rows) == 0 {
		if other > 0 {
			return nil, fmt.Errorf("%w: %s has no line for group %q (%d for other groups)", ErrBadResetFile, name, group, other)
		}
		return nil, fmt.Errorf("%w: %s lists no offsets; want lines of topic,partition,offset as --export writes", ErrBadResetFile, name)
	}
	return rows, nil
}

// resolveFilePartitions checks that every partition a --from-file line
// names exists, refusing the others as resolvePartitions does for --topic
// but naming the line, and returns the partitions to reset.
func (a *app) resolveFilePartitions(ctx context.Context, adm *kadm.Client, name string, rows []fileOffset) (kadm.TopicsSet, error) {
	var names []string
	for _, r := range rows {
		if !slices.Contains(names, r.topic) {
			names = append(names, r.topic)
		}
	}
	tds, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, a.explain(fmt.Errorf("looking up topics: %w", err))
	}
	set := kadm.TopicsSet{}
	var errs []error
	for _, r := range rows {
		td, ok := tds[r.topic]
		switch {
		case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
			errs = append(errs, fmt.Errorf("%w: %s line %d: topic %q does not exist; see the topics there are with `sluice topics list`: %w", ErrBadResetFile, name, r.line, r.topic, kerr.UnknownTopicOrPartition))
		case td.Err != nil:
			errs = append(errs, fmt.Errorf("%s line %d: looking up topic %q: %w", name, r.line, r.topic, td.Err))
		default:
			if _, ok := td.Partitions[r.partition]; !ok {
				errs = append(errs, fmt.Errorf("%w: %s line %d: topic %q has partitions 0-%d, not %d", ErrBadResetFile, name, r.line, r.topic, len(td.Partitions)-1, r.partition))
				continue
			}
			set.Add(r.topic, r.partition)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}
