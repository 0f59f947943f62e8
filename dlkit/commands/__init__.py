"""One module per subcommand; each wires tasks, data and models and calls the runner."""
