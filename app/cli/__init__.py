"""The command line of the API side (`python -m app …`): users, the first-run
hint, the migration between the local side and AWS and its reset codes."""
