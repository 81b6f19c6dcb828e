"""What crosses processes: the plan, the commands and messages Temporal carries, tables, names."""
