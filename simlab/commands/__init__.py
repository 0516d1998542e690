"""simlab's own commands (init, demo, serve); Postfix's are in simlab.postfix.commands."""
