"""richcoex_kit: diagnose and fix Exchange hybrid write-back (KB 2406830, error 8344)."""

__version__ = "0.1.0"
