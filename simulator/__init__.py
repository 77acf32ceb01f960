"""A fake Yoto cloud and fake Yoto players for tests and `make demo`; never shipped to Lambda."""
