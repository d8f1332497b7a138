package ddp

// Sessions returns the number of open sessions and how many were opened
// since the server started (for the hub's metrics).
func (s *Server) Sessions() (open int, opened uint64) {
	s.connMu.Lock()
	open = len(s.conns)
	s.connMu.Unlock()
	return open, uint64(s.stats.opened.Load())
}
