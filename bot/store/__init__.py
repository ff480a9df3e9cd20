"""Storage: schema, migrations and the queries each stage needs."""
