"""flask-wtf forms, one module per area."""
