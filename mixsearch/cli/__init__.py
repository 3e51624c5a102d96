"""Command-line interface: `mixsearch COMMAND ...` (see `mixsearch --help`)."""
