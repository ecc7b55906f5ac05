// Package txn is the transaction coordinator: it maps transactional ids to
// producer ids and epochs, runs Kafka's transaction state machine
// (Empty → Ongoing → PrepareCommit/PrepareAbort → CompleteCommit/
// CompleteAbort), and stores every transition in the compacted internal
// topic __transaction_state with Kafka's record formats
// (kmsg.TxnMetadataKey / kmsg.TxnMetadataValue), so that a Kafka tool can
// read it and a restarted broker can replay it.
//
// The package knows nothing of the server. It gets a [Log] to append to
// and scan the __transaction_state partitions, a [Markers] to write commit
// and abort markers to the partitions of a transaction, and a clock.
// Completing a transaction is synchronous: EndTxn stores the prepare
// record, writes every marker, stores the complete record and only then
// answers. A transaction left in a prepare state (a marker write failed,
// or the broker stopped between the two records) is completed again by
// [Coordinator.Tick] and on [Coordinator.Load], as Kafka's coordinator
// does when it takes over a partition.
//
// Usage:
//
//	c := txn.New(txn.Config{Partitions: 50, NextProducerID: alloc}, log, markers)
//	_ = c.Load(0, 0) // for every partition this broker leads
//	go func() { for range ticker.C { c.Tick() } }()
//	resp := c.InitProducerID(req)
package txn
