"""Terminal presentation: the live demo view."""
