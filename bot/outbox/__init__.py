"""The outbox stage: digests, alerts, updates and notices → messages stored per channel → the
chat adapters, crash-safe and exactly once across replicas (docs/reliability.md)."""
