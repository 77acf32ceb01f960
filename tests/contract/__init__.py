"""Contract suites: one test module per port, each run against the local and the AWS adapters."""
