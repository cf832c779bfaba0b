"""The only package that imports boto3: small per-service clients that return domain types."""
