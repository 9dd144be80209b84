package server

// commands gathers every family's table entries. Each family file declares
// its own commands next to their handlers.
func (s *Server) commands() []*Command {
	var all []*Command
	for _, family := range [][]*Command{
		s.connectionCommands(),
		s.stringCommands(),
		s.keyspaceCommands(),
		s.adminCommands(),
		s.transactionCommands(),
		s.hashCommands(),
		s.listCommands(),
		s.setCommands(),
		s.zsetCommands(),
		s.scriptingCommands(),
	} {
		all = append(all, family...)
	}
	return all
}
