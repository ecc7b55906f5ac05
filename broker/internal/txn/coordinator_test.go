package txn

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/broker/internal/batch"
)

// memLog is an in-memory __transaction_state.
type memLog struct {
	mu    sync.Mutex
	parts map[int32][][]byte
	fail  error
}

func (l *memLog) Append(p int32, b []byte) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return 0, l.fail
	}
	if l.parts == nil {
		l.parts = map[int32][][]byte{}
	}
	l.parts[p] = append(l.parts[p], append([]byte(nil), b...))
	return int64(len(l.parts[p]) - 1), nil
}

func (l *memLog) Scan(p int32, fn func([]byte) error) error {
	l.mu.Lock()
	bs := l.parts[p]
	l.mu.Unlock()
	for _, b := range bs {
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

type marker struct {
	tp     TopicPartition
	pid    int64
	epoch  int16
	commit bool
}

type memMarkers struct {
	mu   sync.Mutex
	got  []marker
	fail error
}

func (m *memMarkers) WriteMarker(tp TopicPartition, pid int64, epoch int16, commit bool, _ int32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.got = append(m.got, marker{tp, pid, epoch, commit})
	return nil
}

func (m *memMarkers) take() []marker {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.got
	m.got = nil
	return g
}

type env struct {
	t       *testing.T
	now     time.Time
	log     *memLog
	markers *memMarkers
	nextPID int64
	c       *Coordinator
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, now: time.Unix(1_700_000_000, 0), log: &memLog{}, markers: &memMarkers{}, nextPID: 1000}
	e.c = e.open()
	return e
}

// open starts a coordinator over the env's log, loading every partition.
func (e *env) open() *Coordinator {
	c := New(Config{
		Partitions:     3,
		MaxTimeout:     time.Minute,
		IDExpiration:   time.Hour,
		NextProducerID: func() (int64, error) { e.nextPID++; return e.nextPID, nil },
		GroupPartition: func(string) int32 { return 7 },
		Now:            func() time.Time { return e.now },
	}, e.log, e.markers)
	for p := range int32(3) {
		if err := c.Load(p, 5); err != nil {
			e.t.Fatal(err)
		}
	}
	return c
}

func (e *env) init(id string) (int64, int16) {
	e.t.Helper()
	pid, epoch, err := e.c.InitProducerID(id, 10*time.Second, -1, -1)
	if err != nil {
		e.t.Fatalf("InitProducerID(%s): %v", id, err)
	}
	return pid, epoch
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) || (want == nil) != (got == nil) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func (e *env) state(id string) State {
	e.t.Helper()
	d, err := e.c.Describe(id)
	if err != nil {
		e.t.Fatalf("Describe(%s): %v", id, err)
	}
	return d.State
}

func TestCommitAndAbort(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.init("t1")
	if epoch != 0 {
		t.Fatalf("first epoch %d, want 0", epoch)
	}
	wantErr(t, "end with nothing ongoing", e.c.EndTxn("t1", pid, epoch, true), kerr.InvalidTxnState)
	wantErr(t, "add", e.c.AddPartitions("t1", pid, epoch, []TopicPartition{{"a", 0}, {"b", 1}}), nil)
	wantErr(t, "add offsets", e.c.AddOffsets("t1", pid, epoch, "g"), nil)
	if s := e.state("t1"); s != Ongoing {
		t.Fatalf("state %v, want Ongoing", s)
	}
	wantErr(t, "commit", e.c.EndTxn("t1", pid, epoch, true), nil)
	got := e.markers.take()
	want := []marker{{TopicPartition{"__consumer_offsets", 7}, pid, 0, true}, {TopicPartition{"a", 0}, pid, 0, true}, {TopicPartition{"b", 1}, pid, 0, true}}
	if len(got) != len(want) {
		t.Fatalf("markers %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("marker %d = %v, want %v", i, got[i], want[i])
		}
	}
	if s := e.state("t1"); s != CompleteCommit {
		t.Fatalf("state %v, want CompleteCommit", s)
	}
	wantErr(t, "retried commit", e.c.EndTxn("t1", pid, epoch, true), nil)
	wantErr(t, "abort after commit", e.c.EndTxn("t1", pid, epoch, false), kerr.InvalidTxnState)

	wantErr(t, "add again", e.c.AddPartitions("t1", pid, epoch, []TopicPartition{{"a", 0}}), nil)
	wantErr(t, "abort", e.c.EndTxn("t1", pid, epoch, false), nil)
	if got := e.markers.take(); len(got) != 1 || got[0].commit || got[0].tp != (TopicPartition{"a", 0}) {
		t.Fatalf("abort markers %v", got)
	}
	if s := e.state("t1"); s != CompleteAbort {
		t.Fatalf("state %v, want CompleteAbort", s)
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	_, _, err := e.c.InitProducerID("t", 2*time.Minute, -1, -1)
	wantErr(t, "timeout over max", err, kerr.InvalidTransactionTimeout)
	_, _, err = e.c.InitProducerID("", time.Second, -1, -1)
	wantErr(t, "empty id", err, kerr.InvalidRequest)
	wantErr(t, "unknown id", e.c.AddPartitions("nope", 1, 0, []TopicPartition{{"a", 0}}), kerr.InvalidProducerIDMapping)
	pid, epoch := e.init("t")
	wantErr(t, "wrong pid", e.c.AddPartitions("t", pid+1, epoch, []TopicPartition{{"a", 0}}), kerr.InvalidProducerIDMapping)
	wantErr(t, "wrong epoch", e.c.EndTxn("t", pid, epoch+1, true), kerr.ProducerFenced)
	_, err = e.c.Describe("nope")
	wantErr(t, "describe unknown", err, kerr.TransactionalIDNotFound)

	// A failed marker write leaves the transaction prepared: requests
	// answer CONCURRENT_TRANSACTIONS until Tick completes it.
	wantErr(t, "add", e.c.AddPartitions("t", pid, epoch, []TopicPartition{{"a", 0}}), nil)
	e.markers.fail = errors.New("disk on fire")
	wantErr(t, "commit", e.c.EndTxn("t", pid, epoch, true), nil)
	if s := e.state("t"); s != PrepareCommit {
		t.Fatalf("state %v, want PrepareCommit", s)
	}
	wantErr(t, "add while preparing", e.c.AddPartitions("t", pid, epoch, []TopicPartition{{"a", 0}}), kerr.ConcurrentTransactions)
	wantErr(t, "abort while committing", e.c.EndTxn("t", pid, epoch, false), kerr.InvalidTxnState)
	e.markers.fail = nil
	e.c.Tick()
	if s := e.state("t"); s != CompleteCommit {
		t.Fatalf("state after tick %v, want CompleteCommit", s)
	}

	// A failed store changes nothing in memory.
	e.log.fail = kerr.NotLeaderForPartition
	wantErr(t, "add with a failing log", e.c.AddPartitions("t", pid, epoch, []TopicPartition{{"b", 0}}), kerr.NotCoordinator)
	e.log.fail = nil
	if s := e.state("t"); s != CompleteCommit {
		t.Fatalf("state after failed store %v", s)
	}
}

func TestFencing(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.init("t")
	wantErr(t, "add", e.c.AddPartitions("t", pid, epoch, []TopicPartition{{"a", 0}}), nil)
	// A second producer with the same id: the ongoing transaction is
	// aborted (markers at a bumped epoch), then the epoch bumps again.
	pid2, epoch2 := e.init("t")
	if pid2 != pid || epoch2 != epoch+2 {
		t.Fatalf("re-init gave %d/%d, want %d/%d", pid2, epoch2, pid, epoch+2)
	}
	if got := e.markers.take(); len(got) != 1 || got[0].commit || got[0].epoch != epoch+1 {
		t.Fatalf("fence markers %v", got)
	}
	wantErr(t, "zombie add", e.c.AddPartitions("t", pid, epoch, []TopicPartition{{"a", 0}}), kerr.ProducerFenced)
	wantErr(t, "zombie end", e.c.EndTxn("t", pid, epoch, true), kerr.ProducerFenced)
	_, _, err := e.c.InitProducerID("t", time.Second, pid, epoch)
	wantErr(t, "zombie KIP-360 re-init", err, kerr.ProducerFenced)
	// The current producer may re-init with its id and epoch.
	if _, e3, err := e.c.InitProducerID("t", time.Second, pid2, epoch2); err != nil || e3 != epoch2+1 {
		t.Fatalf("KIP-360 re-init: epoch %d, %v", e3, err)
	}
	wantErr(t, "verify not added", e.c.Verify(pid, epoch2+1, TopicPartition{"a", 0}), kerr.InvalidTxnState)
	wantErr(t, "verify fenced", e.c.Verify(pid, epoch, TopicPartition{"a", 0}), kerr.ProducerFenced)
	wantErr(t, "verify unknown producer", e.c.Verify(pid+100, 0, TopicPartition{"a", 0}), nil)
	wantErr(t, "add", e.c.AddPartitions("t", pid, epoch2+1, []TopicPartition{{"a", 0}}), nil)
	wantErr(t, "verify added", e.c.Verify(pid, epoch2+1, TopicPartition{"a", 0}), nil)
}

func TestEpochExhaustion(t *testing.T) {
	e := newEnv(t)
	pid, _ := e.init("t")
	e.c.mu.Lock()
	e.c.txns["t"].epoch = 32766
	e.c.mu.Unlock()
	pid2, epoch2 := e.init("t")
	if pid2 == pid || epoch2 != 0 {
		t.Fatalf("after exhaustion got %d/%d, want a new id at epoch 0", pid2, epoch2)
	}
}

func TestTimeout(t *testing.T) {
	e := newEnv(t)
	pid, epoch := e.init("t")
	wantErr(t, "add", e.c.AddPartitions("t", pid, epoch, []TopicPartition{{"a", 0}}), nil)
	e.now = e.now.Add(9 * time.Second)
	e.c.Tick()
	if s := e.state("t"); s != Ongoing {
		t.Fatalf("state before timeout %v", s)
	}
	e.now = e.now.Add(time.Second)
	e.c.Tick()
	if s := e.state("t"); s != CompleteAbort {
		t.Fatalf("state after timeout %v, want CompleteAbort", s)
	}
	if got := e.markers.take(); len(got) != 1 || got[0].commit || got[0].epoch != epoch+1 {
		t.Fatalf("timeout markers %v", got)
	}
	wantErr(t, "timed-out producer commits", e.c.EndTxn("t", pid, epoch, true), kerr.ProducerFenced)
	// KIP-360: the producer fenced by the timeout may re-initialize with
	// its old epoch; an older one may not.
	_, _, err := e.c.InitProducerID("t", time.Second, pid, epoch-1)
	wantErr(t, "re-init with an epoch older than the last", err, kerr.ProducerFenced)
	if p2, e2, err := e.c.InitProducerID("t", 10*time.Second, pid, epoch); err != nil || p2 != pid || e2 != epoch+2 {
		t.Fatalf("re-init after a timeout: %d/%d %v", p2, e2, err)
	}

	// Idle ids expire after transactional.id.expiration.ms.
	e.now = e.now.Add(time.Hour)
	e.c.Tick()
	_, err = e.c.Describe("t")
	wantErr(t, "expired id", err, kerr.TransactionalIDNotFound)
	e.c = e.open()
	_, err = e.c.Describe("t")
	wantErr(t, "expired id after replay", err, kerr.TransactionalIDNotFound)
}

func TestReplay(t *testing.T) {
	e := newEnv(t)
	pidA, epA := e.init("ongoing")
	wantErr(t, "add", e.c.AddPartitions("ongoing", pidA, epA, []TopicPartition{{"a", 0}, {"a", 1}}), nil)
	pidB, epB := e.init("preparing")
	wantErr(t, "add", e.c.AddPartitions("preparing", pidB, epB, []TopicPartition{{"b", 0}}), nil)
	e.markers.fail = errors.New("broker stops")
	wantErr(t, "commit", e.c.EndTxn("preparing", pidB, epB, true), nil)
	e.markers.fail = nil
	pidC, epC := e.init("done")

	// Restart: the prepared commit is completed on load, markers again.
	e.c.Close()
	e.now = e.now.Add(5 * time.Second)
	e.c = e.open()
	if got := e.markers.take(); len(got) != 1 || !got[0].commit || got[0].tp != (TopicPartition{"b", 0}) || got[0].pid != pidB {
		t.Fatalf("markers on load %v", got)
	}
	if s := e.state("preparing"); s != CompleteCommit {
		t.Fatalf("prepared txn after load: %v", s)
	}
	d, err := e.c.Describe("ongoing")
	if err != nil || d.State != Ongoing || d.ProducerID != pidA || d.ProducerEpoch != epA || len(d.Partitions) != 2 || d.Timeout != 10*time.Second {
		t.Fatalf("ongoing after load: %+v %v", d, err)
	}
	if d, err := e.c.Describe("done"); err != nil || d.State != Empty || d.ProducerID != pidC || d.ProducerEpoch != epC {
		t.Fatalf("empty after load: %+v %v", d, err)
	}
	// The ongoing one keeps its start time and times out on schedule.
	e.now = e.now.Add(5 * time.Second)
	e.c.Tick()
	if s := e.state("ongoing"); s != CompleteAbort {
		t.Fatalf("ongoing txn after its timeout: %v", s)
	}
	// Listing with filters.
	if l := e.c.List([]State{CompleteCommit}, nil, -1); len(l) != 1 || l[0].ID != "preparing" {
		t.Fatalf("list by state: %+v", l)
	}
	if l := e.c.List(nil, []int64{pidC}, -1); len(l) != 1 || l[0].ID != "done" {
		t.Fatalf("list by pid: %+v", l)
	}
	if l := e.c.List(nil, nil, -1); len(l) != 3 {
		t.Fatalf("list all: %+v", l)
	}
}

func TestLoadStates(t *testing.T) {
	e := newEnv(t)
	c := New(Config{NextProducerID: func() (int64, error) { return 1, nil }}, e.log, e.markers)
	_, _, err := c.InitProducerID("x", time.Second, -1, -1)
	wantErr(t, "not loaded", err, kerr.NotCoordinator)
	c.Close()
	_, _, err = c.InitProducerID("x", time.Second, -1, -1)
	wantErr(t, "closed", err, kerr.CoordinatorNotAvailable)
	if err := c.Load(0, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("load after close: %v", err)
	}
	// Records are Kafka's: a control batch is skipped, key version 0.
	b, _ := batch.AppendBatch(nil, batch.Header{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, []batch.Record{{Key: []byte{0, 9}, Value: []byte{1}}})
	if _, err := e.log.Append(0, b); err != nil {
		t.Fatal(err)
	}
	if c := e.open(); len(c.txns) != 0 {
		t.Fatalf("bad record replayed: %v", c.txns)
	}
}

func TestPartitionFor(t *testing.T) {
	// Values from Kafka's Utils.abs("...".hashCode()) % 50.
	// "txn": 116*31*31 + 120*31 + 110 = 115306.
	for id, want := range map[string]int32{"": 0, "a": 47, "txn": 6} {
		if got := PartitionFor(id, 50); got != want {
			t.Errorf("PartitionFor(%q) = %d, want %d", id, got, want)
		}
	}
}
