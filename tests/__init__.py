"""raftcron's tests: unit/, cluster/, ssh/ and chaos/ tiers over the support/ package."""
