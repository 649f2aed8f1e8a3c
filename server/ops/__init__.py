"""Operations: readiness checks, Prometheus metrics and the index/raw-store reconcile (docs/operations.md)."""
