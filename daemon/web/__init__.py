"""The daemon's HTTP server: health, readiness, metrics, webhooks, admin API and drift pages."""
