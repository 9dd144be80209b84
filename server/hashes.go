package server

// Hash commands: registered here as they are implemented. A command not in
// the table answers Redis's unknown-command error.
func (s *Server) hashCommands() []*Command {
	return nil
}
