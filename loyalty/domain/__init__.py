"""Business rules of Loyalty Guardian as plain Python: no Flask, no database."""
