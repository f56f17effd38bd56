"""The Prometheus exporter: `gb10dash exporter` (metric names: docs/exporter.md)."""
