// Package server is the broker's network front and request handlers: it
// accepts Kafka protocol connections, decodes requests with kmsg, runs one
// handler per API key (the NN_name.go files, each starting with the versions
// it supports) and writes responses back in request order.
package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/config"
	"github.com/sluicehq/sluice/broker/internal/meta"
)

// versionRange is the inclusive range of versions served for one API key.
type versionRange struct{ min, max int16 }

// apiVersions lists every API this broker implements fully, with the
// version range it serves. ApiVersions advertises exactly this table.
var apiVersions = map[int16]versionRange{
	0:  {3, 11}, // Produce
	1:  {4, 16}, // Fetch
	2:  {1, 8},  // ListOffsets
	3:  {0, 12}, // Metadata
	8:  {0, 9},  // OffsetCommit
	9:  {0, 9},  // OffsetFetch
	10: {0, 6},  // FindCoordinator
	11: {0, 9},  // JoinGroup
	12: {0, 4},  // Heartbeat
	13: {0, 5},  // LeaveGroup
	14: {0, 5},  // SyncGroup
	15: {0, 5},  // DescribeGroups
	16: {0, 5},  // ListGroups
	18: {0, 4},  // ApiVersions
	19: {0, 7},  // CreateTopics
	20: {0, 6},  // DeleteTopics
	21: {0, 2},  // DeleteRecords
	22: {0, 5},  // InitProducerId
	23: {0, 4},  // OffsetForLeaderEpoch
	24: {0, 3},  // AddPartitionsToTxn
	25: {0, 3},  // AddOffsetsToTxn
	26: {0, 3},  // EndTxn
	27: {0, 1},  // WriteTxnMarkers
	28: {0, 3},  // TxnOffsetCommit
	29: {0, 3},  // DescribeAcls
	30: {0, 3},  // CreateAcls
	31: {0, 3},  // DeleteAcls
	32: {0, 4},  // DescribeConfigs
	33: {0, 2},  // AlterConfigs
	35: {0, 4},  // DescribeLogDirs
	37: {0, 3},  // CreatePartitions
	42: {0, 2},  // DeleteGroups
	43: {0, 2},  // ElectLeaders
	45: {0, 1},  // AlterPartitionReassignments
	46: {0, 0},  // ListPartitionReassignments
	47: {0, 0},  // OffsetDelete
	44: {0, 1},  // IncrementalAlterConfigs
	60: {0, 1},  // DescribeCluster
	61: {0, 0},  // DescribeProducers
	65: {0, 0},  // DescribeTransactions
	66: {0, 1},  // ListTransactions
	68: {0, 1},  // ConsumerGroupHeartbeat
	69: {0, 1},  // ConsumerGroupDescribe
}

type boundListener struct {
	name string
	ln   net.Listener
}

// Server is one broker's network server and partition owner.
type Server struct {
	// cfg is the effective broker config: static settings with the dynamic
	// per-broker and cluster-default layers on top. AlterConfigs swaps it
	// whole, so readers call [Server.config] once per use and never see a
	// half-applied change.
	cfg       atomic.Pointer[config.Broker]
	log       *slog.Logger
	clusterID string
	meta      *meta.Store
	parts     *registry

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	lnMu      sync.Mutex
	listeners []boundListener
	// advertised is what Metadata returns for this broker, per listener
	// name; a port of 0 in the config is replaced by the bound port.
	advertised map[string]config.Listener
	conns      map[net.Conn]struct{}

	bufs bufPool

	groups *groupsState // the group coordinator (groups.go)
	txns   *txnsState   // the transaction coordinator (txns.go)
	// txnVerify is the transaction coordinator's check of transactional
	// produce (27_write_txn_markers.go); nil accepts.
	txnVerify atomic.Pointer[TxnProduceVerifier]

	closeOnce sync.Once
	closeErr  error
}

// New opens the broker's data directories, replays the metadata and opens
// every partition log (recovering any torn tail), then binds the listeners.
// Serving starts with [Server.Serve].
func New(cfg *config.Broker, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.LogDirs) == 0 {
		return nil, errors.New("server: log.dirs is empty")
	}
	for _, d := range cfg.LogDirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("server: creating log dir: %w", err)
		}
	}
	clusterID, err := loadMetaProperties(cfg.LogDirs, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	store, err := meta.OpenStore(filepath.Join(cfg.LogDirs[0], "__cluster_metadata-0"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		log:        logger,
		clusterID:  clusterID,
		meta:       store,
		ctx:        ctx,
		cancel:     cancel,
		advertised: map[string]config.Listener{},
		conns:      map[net.Conn]struct{}{},
	}
	s.cfg.Store(withStoredDynamic(cfg, store, logger))
	s.parts = newRegistry(s)
	if err := s.parts.load(); err != nil {
		s.parts.closeAll()
		store.Close()
		cancel()
		return nil, err
	}
	if err := s.openGroups(); err != nil {
		s.parts.closeAll()
		store.Close()
		cancel()
		return nil, err
	}
	if err := s.openTxns(); err != nil {
		s.closeGroups()
		s.parts.closeAll()
		store.Close()
		cancel()
		return nil, err
	}
	if err := s.listen(); err != nil {
		s.closeTxns()
		s.closeGroups()
		s.parts.closeAll()
		store.Close()
		cancel()
		return nil, err
	}
	return s, nil
}

func (s *Server) listen() error {
	for _, l := range s.config().Listeners {
		if slices.Contains(s.config().ControllerListenerNames, l.Name) {
			continue // the controller quorum is not served yet on a single node
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(l.Host, strconv.Itoa(l.Port)))
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("server: listener %s: %w", l, err)
		}
		s.listeners = append(s.listeners, boundListener{l.Name, ln})
		a, err := s.config().Advertise(l.Name, ln.Addr().(*net.TCPAddr).Port, os.Hostname)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("server: %w", err)
		}
		s.advertised[l.Name] = a
	}
	if len(s.listeners) == 0 {
		return errors.New("server: no client listener configured (listeners only names controller listeners)")
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, o := range s.listeners {
		o.ln.Close()
	}
	s.listeners = nil
}

// config returns the current effective broker config. The value is
// immutable; a dynamic config change replaces it.
func (s *Server) config() *config.Broker { return s.cfg.Load() }

// Addrs returns the bound address of every client listener.
func (s *Server) Addrs() []string {
	var out []string
	for _, bl := range s.listeners {
		out = append(out, bl.ln.Addr().String())
	}
	return out
}

// ClusterID returns the cluster id stored in meta.properties.
func (s *Server) ClusterID() string { return s.clusterID }

// Serve accepts connections until ctx is done or Close is called, then shuts
// down: it closes listeners and connections, waits for every goroutine and
// closes (flushes) every log.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.cancel() })
	defer stop()
	for _, bl := range s.listeners {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.acceptLoop(bl)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.housekeeping()
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runCleaner()
	}()
	s.log.Info("broker serving", "listeners", s.Addrs(), "node.id", s.config().NodeID, "cluster.id", s.clusterID, "log.dirs", s.config().LogDirs)
	<-s.ctx.Done()
	return s.Close()
}

func (s *Server) acceptLoop(bl boundListener) {
	ln := bl.ln
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary errors (EMFILE): back off instead of spinning.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		s.lnMu.Lock()
		if s.ctx.Err() != nil {
			s.lnMu.Unlock()
			nc.Close()
			return
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.lnMu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(nc, bl.name)
			s.lnMu.Lock()
			delete(s.conns, nc)
			s.lnMu.Unlock()
		}()
	}
}

// housekeeping runs retention and time-based flushes on their intervals,
// and every second fsyncs the segments that rolled (see
// registry.flushRolled).
func (s *Server) housekeeping() {
	retention := time.Duration(s.config().LogRetentionCheckIntervalMs) * time.Millisecond
	flush := time.Duration(s.config().LogFlushSchedulerIntervalMs) * time.Millisecond
	if flush <= 0 || flush > time.Hour {
		flush = time.Hour
	}
	rt := time.NewTicker(retention)
	defer rt.Stop()
	ft := time.NewTicker(flush)
	defer ft.Stop()
	rolled := time.NewTicker(time.Second)
	defer rolled.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-rt.C:
			s.parts.enforceRetention(now)
		case <-ft.C:
			s.parts.flushDue()
		case <-rolled.C:
			s.parts.flushRolled()
		}
	}
}

// Close stops serving and releases everything; it is idempotent and
// returns after every goroutine the server started has returned.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.lnMu.Lock()
		for _, bl := range s.listeners {
			bl.ln.Close()
		}
		for nc := range s.conns {
			nc.Close()
		}
		s.lnMu.Unlock()
		s.wg.Wait()
		s.closeTxns()
		s.closeGroups()
		err := s.parts.closeAll()
		if merr := s.meta.Close(); err == nil {
			err = merr
		}
		s.closeErr = err
		s.log.Info("broker stopped", "err", err)
	})
	return s.closeErr
}

// handle runs the handler for one request.
func (s *Server) handle(ctx context.Context, r *request) (kmsg.Response, error) {
	switch req := r.kreq.(type) {
	case *kmsg.ProduceRequest:
		return s.handleProduce(ctx, r, req)
	case *kmsg.FetchRequest:
		return s.handleFetch(ctx, r, req)
	case *kmsg.ListOffsetsRequest:
		return s.handleListOffsets(r, req)
	case *kmsg.MetadataRequest:
		return s.handleMetadata(r, req)
	case *kmsg.ApiVersionsRequest:
		return s.handleApiVersions(r, req)
	case *kmsg.CreateTopicsRequest:
		return s.handleCreateTopics(r, req)
	case *kmsg.DeleteTopicsRequest:
		return s.handleDeleteTopics(r, req)
	case *kmsg.DeleteRecordsRequest:
		return s.handleDeleteRecords(r, req)
	case *kmsg.InitProducerIDRequest:
		return s.handleInitProducerID(r, req)
	case *kmsg.AddPartitionsToTxnRequest:
		return s.handleAddPartitionsToTxn(r, req)
	case *kmsg.AddOffsetsToTxnRequest:
		return s.handleAddOffsetsToTxn(r, req)
	case *kmsg.EndTxnRequest:
		return s.handleEndTxn(r, req)
	case *kmsg.TxnOffsetCommitRequest:
		return s.handleTxnOffsetCommit(r, req)
	case *kmsg.DescribeProducersRequest:
		return s.handleDescribeProducers(r, req)
	case *kmsg.DescribeTransactionsRequest:
		return s.handleDescribeTransactions(r, req)
	case *kmsg.ListTransactionsRequest:
		return s.handleListTransactions(r, req)
	case *kmsg.OffsetForLeaderEpochRequest:
		return s.handleOffsetForLeaderEpoch(r, req)
	case *kmsg.DescribeConfigsRequest:
		return s.handleDescribeConfigs(r, req)
	case *kmsg.AlterConfigsRequest:
		return s.handleAlterConfigs(r, req)
	case *kmsg.IncrementalAlterConfigsRequest:
		return s.handleIncrementalAlterConfigs(r, req)
	case *kmsg.DescribeLogDirsRequest:
		return s.handleDescribeLogDirs(r, req)
	case *kmsg.CreatePartitionsRequest:
		return s.handleCreatePartitions(r, req)
	case *kmsg.DescribeClusterRequest:
		return s.handleDescribeCluster(r, req)
	case *kmsg.OffsetCommitRequest:
		return s.handleOffsetCommit(r, req)
	case *kmsg.OffsetFetchRequest:
		return s.handleOffsetFetch(r, req)
	case *kmsg.FindCoordinatorRequest:
		return s.handleFindCoordinator(r, req)
	case *kmsg.JoinGroupRequest:
		return s.handleJoinGroup(ctx, r, req)
	case *kmsg.HeartbeatRequest:
		return s.handleHeartbeat(r, req)
	case *kmsg.LeaveGroupRequest:
		return s.handleLeaveGroup(r, req)
	case *kmsg.SyncGroupRequest:
		return s.handleSyncGroup(ctx, r, req)
	case *kmsg.DescribeGroupsRequest:
		return s.handleDescribeGroups(r, req)
	case *kmsg.ListGroupsRequest:
		return s.handleListGroups(r, req)
	case *kmsg.DeleteGroupsRequest:
		return s.handleDeleteGroups(r, req)
	case *kmsg.OffsetDeleteRequest:
		return s.handleOffsetDelete(r, req)
	case *kmsg.ConsumerGroupHeartbeatRequest:
		return s.handleConsumerGroupHeartbeat(r, req)
	case *kmsg.ConsumerGroupDescribeRequest:
		return s.handleConsumerGroupDescribe(r, req)
	case *kmsg.WriteTxnMarkersRequest:
		return s.handleWriteTxnMarkers(r, req)
	case *kmsg.DescribeACLsRequest:
		return s.handleDescribeACLs(r, req)
	case *kmsg.CreateACLsRequest:
		return s.handleCreateACLs(r, req)
	case *kmsg.DeleteACLsRequest:
		return s.handleDeleteACLs(r, req)
	case *kmsg.ElectLeadersRequest:
		return s.handleElectLeaders(r, req)
	case *kmsg.AlterPartitionAssignmentsRequest:
		return s.handleAlterPartitionAssignments(r, req)
	case *kmsg.ListPartitionReassignmentsRequest:
		return s.handleListPartitionReassignments(r, req)
	}
	return nil, fmt.Errorf("no handler for %s", kmsg.NameForKey(r.key))
}

// loadMetaProperties reads meta.properties from every log dir (Kafka's
// layout: node.id, cluster.id, version), creating it with a new cluster id
// on first start, and refuses to start when the dirs disagree or belong to
// another node.
func loadMetaProperties(dirs []string, nodeID int32) (string, error) {
	var clusterID string
	var missing []string
	for _, d := range dirs {
		p := filepath.Join(d, "meta.properties")
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			missing = append(missing, p)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("server: %w", err)
		}
		props, err := config.ReadProperties(bytes.NewReader(b))
		if err != nil {
			return "", fmt.Errorf("server: %s: %w", p, err)
		}
		if id := props["node.id"]; id != "" && id != strconv.Itoa(int(nodeID)) {
			return "", fmt.Errorf("server: %s belongs to node.id %s, but this broker is node.id %d; use another log.dirs or set node.id=%s", p, id, nodeID, id)
		}
		cid := props["cluster.id"]
		if clusterID != "" && cid != clusterID {
			return "", fmt.Errorf("server: %s has cluster.id %s, other log dirs have %s", p, cid, clusterID)
		}
		clusterID = cid
	}
	if clusterID == "" {
		var u [16]byte
		if _, err := rand.Read(u[:]); err != nil {
			return "", fmt.Errorf("server: %w", err)
		}
		clusterID = base64.RawURLEncoding.EncodeToString(u[:])
	}
	for _, p := range missing {
		content := fmt.Sprintf("#\n#%s\nnode.id=%d\nversion=1\ncluster.id=%s\n", time.Now().UTC().Format(time.RFC1123), nodeID, clusterID)
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("server: %w", err)
		}
		if err := os.Rename(tmp, p); err != nil {
			return "", fmt.Errorf("server: %w", err)
		}
	}
	return clusterID, nil
}
