package server

// Set commands: registered here as they are implemented. A command not in
// the table answers Redis's unknown-command error.
func (s *Server) setCommands() []*Command {
	return nil
}
