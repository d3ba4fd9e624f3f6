"""Stats: rollups of check results, and the queries behind uptime % and latency percentiles."""
