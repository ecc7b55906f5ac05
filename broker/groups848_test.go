package broker_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker/brokertest"
)

// waitConsumerGroup polls ConsumerGroupDescribe until ok accepts the group.
func waitConsumerGroup(t *testing.T, adm *kadm.Client, group string, ok func(kadm.DescribedConsumerGroup) bool) kadm.DescribedConsumerGroup {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last kadm.DescribedConsumerGroup
	for time.Now().Before(deadline) {
		ds, err := adm.DescribeConsumerGroups(ctxT(t), group)
		if err == nil {
			last = ds[group]
			if last.Err == nil && ok(last) {
				return last
			}
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	t.Fatalf("consumer group %s never reached the expected state; last: state %s, %d members, err %v", group, last.State, len(last.Members), last.Err)
	return last
}

func cgAssigned(m kadm.ConsumerGroupMember) int {
	n := 0
	for _, ps := range m.Assignment {
		n += len(ps)
	}
	return n
}

// stableSplit reports a Stable consumer group whose members all own want
// partitions.
func stableSplit(members, want int) func(kadm.DescribedConsumerGroup) bool {
	return func(d kadm.DescribedConsumerGroup) bool {
		if d.State != "Stable" || len(d.Members) != members {
			return false
		}
		for _, m := range d.Members {
			if cgAssigned(m) != want {
				return false
			}
		}
		return true
	}
}

// TestConsumerGroup848SplitLeaveTakeOver: two kgo consumers on the KIP-848
// protocol (ServerSideBalancer) split a 6-partition topic through the
// broker's assignor, one leaves after committing, and the other takes over
// everything from the commits, reading nothing twice.
func TestConsumerGroup848SplitLeaveTakeOver(t *testing.T) {
	for _, bal := range []struct {
		name, assignor string
		opt            kgo.Opt
	}{
		{"uniform", "uniform", kgo.Balancers(kgo.CooperativeStickyBalancer())},
		{"range", "range", kgo.Balancers(kgo.RangeBalancer())},
	} {
		t.Run(bal.name, func(t *testing.T) {
			// A short heartbeat interval: members learn of new
			// assignments on their next heartbeat.
			b := brokertest.Start(t, brokertest.Property("group.consumer.heartbeat.interval.ms", "500"))
			adm := kadm.NewClient(client(t, b.Addr()))
			group := "g848-" + bal.name
			members := func(n, each int) func() bool {
				return func() bool {
					ds, err := adm.DescribeConsumerGroups(ctxT(t), group)
					return err == nil && stableSplit(n, each)(ds[group])
				}
			}
			opts := []kgo.Opt{bal.opt, kgo.ServerSideBalancer()}
			splitLeaveTakeOver(t, b.Addr(), "split848-"+bal.name, group, opts, members(2, 3), members(1, 6), func() {
				d := waitConsumerGroup(t, adm, group, stableSplit(2, 3))
				if d.AssignorName != bal.assignor || d.Epoch != d.AssignmentEpoch || d.Members[0].ClientID != "sluice-test" || d.Members[0].MemberType != 1 {
					t.Fatalf("describe: %+v", d)
				}
				lg, err := adm.ListGroupsByType(ctxT(t), []string{"consumer"})
				if err != nil || len(lg) != 1 || lg[group].State != "Stable" {
					t.Fatalf("list consumer groups: %v %+v", err, lg)
				}
			})
		})
	}
}

// TestConsumerGroup848Restart: a KIP-848 group's commits and membership
// survive a broker restart; the running consumer carries on, and a new
// consumer of the group starts from the commits.
func TestConsumerGroup848Restart(t *testing.T) {
	b := brokertest.Start(t)
	prod := client(t, b.Addr())
	adm := kadm.NewClient(prod)
	createTopic(t, adm, "rs848", 3, nil)
	produceN(t, prod, "rs848", 30)

	c := groupConsumer(t, b.Addr(), "rg848", "rs848", kgo.ServerSideBalancer())
	seen := map[recKey]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 30 {
		pollInto(t, c, seen)
		if time.Now().After(deadline) {
			t.Fatalf("read %d of 30", len(seen))
		}
	}
	commit(t, c)
	before := waitConsumerGroup(t, adm, "rg848", stableSplit(1, 3))
	c.Close() // leaves: the group is empty but keeps its commits

	b = b.Restart(t)
	adm = kadm.NewClient(client(t, b.Addr()))
	lg, err := adm.ListGroupsByType(ctxT(t), []string{"consumer"})
	if err != nil || lg["rg848"].State != "Empty" {
		t.Fatalf("after restart: list %v %+v", err, lg)
	}
	d, err := adm.DescribeConsumerGroups(ctxT(t), "rg848")
	if err != nil || d["rg848"].Epoch <= before.Epoch {
		t.Fatalf("after restart: describe %v %+v (epoch before %d)", err, d["rg848"], before.Epoch)
	}
	produceN(t, client(t, b.Addr()), "rs848", 3)
	c2 := groupConsumer(t, b.Addr(), "rg848", "rs848", kgo.ServerSideBalancer())
	defer c2.Close()
	after := map[recKey]bool{}
	deadline = time.Now().Add(30 * time.Second)
	for len(after) < 3 {
		pollInto(t, c2, after)
		if time.Now().After(deadline) {
			t.Fatalf("after restart read %d of the 3 new records", len(after))
		}
	}
	for k := range after {
		if seen[k] {
			t.Fatalf("record %+v committed before the restart was read again", k)
		}
	}
}
