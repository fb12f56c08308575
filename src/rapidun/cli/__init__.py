"""Command-line interface: one module per subcommand, each a thin layer over a library function. Config files are
read here and nowhere else."""
