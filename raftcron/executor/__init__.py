"""Running an assigned run: on this peer (`local`) or on an SSH node (`ssh`)."""
