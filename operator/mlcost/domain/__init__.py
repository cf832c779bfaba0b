"""Pure planning: desired state + observed state + clock -> plan and status. No I/O."""
