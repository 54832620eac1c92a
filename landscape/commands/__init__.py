"""Sub-commands of ``landscape``; each module has HELP, add_arguments(parser) and run(args)."""
