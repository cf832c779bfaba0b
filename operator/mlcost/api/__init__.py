"""The user-facing API: pydantic models of every CRD version. No I/O."""
