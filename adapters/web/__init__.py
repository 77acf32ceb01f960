"""Fetching from the open web on a family member's behalf (podcast feeds and enclosures)."""
